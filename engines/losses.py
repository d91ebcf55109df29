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


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Sigmoid focal loss (SAM/SAM2 form), mean over pixels."""
    prob = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * loss).mean()


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of the thresholded prediction per image (no gradient), B."""
    pred = (logits > 0).flatten(1).float()
    target = target.flatten(1)
    intersection = (pred * target).sum(1)
    union = pred.sum(1) + target.sum(1) - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def sam2_loss(logits: torch.Tensor, target: torch.Tensor, iou_pred: torch.Tensor | None = None,
              weights: tuple[float, float, float] = (1.0, 20.0, 1.0)) -> tuple[torch.Tensor, dict[str, float]]:
    """SAM2's composite loss: Dice + focal (weighted 20, as in SAM) + IoU-prediction MSE."""
    dice = dice_loss(logits, target)
    focal = focal_loss(logits, target)
    total = weights[0] * dice + weights[1] * focal
    logs = {"dice": dice.item(), "focal": focal.item()}
    if iou_pred is not None:
        iou_term = F.mse_loss(iou_pred.flatten(), mask_iou(logits.detach(), target))
        total = total + weights[2] * iou_term
        logs["iou"] = iou_term.item()
    return total, logs


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE + Dice with equal weights (CLUE, IFDL-VLM)."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    dice = dice_loss(logits, target)
    return bce + dice, {"bce": bce.item(), "dice": dice.item()}
