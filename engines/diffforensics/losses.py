"""DiffForensics losses (paper Eq. 1, 4–9) and the edge label they need.

Stage 1: ‖ε − ε̂‖² (mean over pixels).
Stage 2: L = α·(L_seg + L_edg) + β·L_clf with
  L_seg = λ₀ˢ·wBCE(2 on tampered pixels, 0.5 on real) + (1 − λ₀ˢ)·Dice (squared denominator),
  L_edg = Σ_k 2^−(k−1)·Dice(f_k, edge label), k = 1 the finest scale,
  L_clf = weighted BCE (0.7 on tampered images, 0.3 on real ones; or class-balanced per batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engines.diffforensics.config import LossConfig
from engines.diffforensics.model import DiffForensicsOutput
from engines.training.losses import dice_loss


def denoising_loss(predicted: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(predicted, noise)


def edge_label(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """The boundary band of a B × 1 × H × W {0, 1} mask: its morphological gradient (dilation
    minus erosion with a (2r+1)² square), about 2r pixels wide at the input scale and centred on
    the boundary. The image border is not a boundary; an empty or full mask has no band."""
    size = 2 * radius + 1
    dilated = F.max_pool2d(mask, size, stride=1, padding=radius)
    eroded = -F.max_pool2d(-mask, size, stride=1, padding=radius)
    return dilated - eroded


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, positive_weight: float,
                 negative_weight: float) -> torch.Tensor:
    """Mean BCE with `positive_weight` on targets 1 and `negative_weight` on targets 0."""
    weights = target * positive_weight + (1.0 - target) * negative_weight
    return F.binary_cross_entropy_with_logits(logits, target, weight=weights)


def segmentation_loss(logits: torch.Tensor, mask: torch.Tensor, config: LossConfig) -> torch.Tensor:
    wbce = weighted_bce(logits, mask, config.tampered_pixel_weight, config.real_pixel_weight)
    dice = dice_loss(logits, mask, squared=True)
    return config.seg_bce_share * wbce + (1.0 - config.seg_bce_share) * dice


def edge_loss(edge_logits: list[torch.Tensor], edges: torch.Tensor, config: LossConfig) -> torch.Tensor:
    return sum(weight * dice_loss(logits, edges, squared=True)
               for weight, logits in zip(config.edge_scale_weights, edge_logits, strict=True))


def classification_loss(logits: torch.Tensor, tampered: torch.Tensor, config: LossConfig) -> torch.Tensor:
    """The paper's fixed 0.7 / 0.3 weights, or (`balance_classes`) weights inverse to each class's
    share of the batch, so the head cannot win by answering the majority class."""
    positive, negative = config.tampered_image_weight, config.real_image_weight
    share = float(tampered.float().mean())
    if config.balance_classes and 0.0 < share < 1.0:
        positive, negative = 0.5 / share, 0.5 / (1.0 - share)
    return weighted_bce(logits, tampered, positive, negative)


def diffforensics_loss(output: DiffForensicsOutput, mask: torch.Tensor, tampered: torch.Tensor,
                       config: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Total stage-2 loss for B × 1 × S × S {0, 1} masks and B image labels (1 = tampered)."""
    seg = segmentation_loss(output.mask_logits, mask, config)
    edg = edge_loss(output.edge_logits, edge_label(mask, config.edge_radius), config)
    clf = classification_loss(output.detection_logits, tampered, config)
    total = config.alpha * (seg + edg) + config.beta * clf
    return total, {"seg": seg.item(), "edge": edg.item(), "clf": clf.item()}
