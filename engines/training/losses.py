"""Segmentation losses shared by the engines, on logits of shape B×1×H×W and masks in {0, 1}."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dice_loss(logits: torch.Tensor, target: torch.Tensor, squared: bool = False, eps: float = 1.0) -> torch.Tensor:
    """1 − Dice per image, averaged; `squared` uses Σp² + Σy² in the denominator (V-Net form)."""
    prob = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    intersection = (prob * target).sum(1)
    if squared:
        denominator = (prob**2).sum(1) + (target**2).sum(1)
    else:
        denominator = prob.sum(1) + target.sum(1)
    return (1.0 - (2.0 * intersection + eps) / (denominator + eps)).mean()


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float = 1.0,
                  dice_on_tampered_only: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE + Dice with equal weights (CLUE, IFDL-VLM); `pos_weight` up-weights tampered pixels.

    `dice_on_tampered_only`: the Dice term skips images with an empty mask (authentic ones), which
    the BCE term already covers. On a 1:1 authentic:tampered batch a per-image Dice of an empty mask
    (1 − 1/(Σp + 1)) pushes every map to zero: Detective SAM's adapters collapsed to empty maps in
    one epoch of forge v2 (held-out F1 0.00)."""
    weight = torch.tensor(pos_weight, device=logits.device) if pos_weight != 1.0 else None
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
    if dice_on_tampered_only:
        tampered = target.flatten(1).amax(1) > 0
        logits, target = logits[tampered], target[tampered]
    dice = dice_loss(logits, target) if len(logits) else bce * 0
    return bce + dice, {"bce": bce.item(), "dice": dice.item()}
