"""CLUE's Feature Fusion and Localization modules, and the analysts' evidence probes.

Feature Fusion (paper, Fig. 3): each branch's features go through their own projection (1×1 conv
then GroupNorm — the paper's "another Group Normalization" after the concatenation implies one in
the projections), are resized to the SAM branch's grid, concatenated, and refined by a 3×3 conv,
GroupNorm, SiLU and a 3×3 conv.

Localization Module (paper, eq. 3): 3×3 conv + ReLU to an intermediate width, 1×1 conv to one
channel of logits, bilinear upsampling by a fixed scale factor (output size / grid). The sigmoid
is applied by the caller (the loss works on logits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _to_grid(features: torch.Tensor, grid: int) -> torch.Tensor:
    if features.shape[-1] == grid and features.shape[-2] == grid:
        return features
    return F.interpolate(features, size=(grid, grid), mode="bilinear", align_corners=False)


class Projection(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, 1), nn.GroupNorm(groups, out_channels))


class FeatureFusion(nn.Module):
    def __init__(self, sam_channels: int, latent_channels: int, dim: int, groups: int, grid: int) -> None:
        super().__init__()
        self.grid = grid
        self.project_sam = Projection(sam_channels, dim, groups)
        self.project_latent = Projection(latent_channels, dim, groups)
        self.refine = nn.Sequential(
            nn.Conv2d(2 * dim, dim, 3, padding=1), nn.GroupNorm(groups, dim), nn.SiLU(),
            nn.Conv2d(dim, dim, 3, padding=1),
        )

    def project(self, sam: torch.Tensor, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both branches projected and on the common grid (what the probes read)."""
        return _to_grid(self.project_sam(sam), self.grid), _to_grid(self.project_latent(latent), self.grid)

    def forward(self, sam_projected: torch.Tensor, latent_projected: torch.Tensor) -> torch.Tensor:
        return self.refine(torch.cat([sam_projected, latent_projected], dim=1))


class LocalizationModule(nn.Module):
    def __init__(self, dim: int, hidden: int, scale_factor: int) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(dim, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 1, 1))
        self.scale_factor = scale_factor

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """B×1×(grid·scale)×(grid·scale) logits."""
        return F.interpolate(self.head(fused), scale_factor=self.scale_factor, mode="bilinear", align_corners=False)


class EvidenceProbe(nn.Module):
    """A per-pixel two-layer readout of one branch's (or one noise level's) features, for analysts.

    Its input is detached: a probe learns, with the same BCE + Dice loss, how much of the forgery
    those features alone reveal, without changing what CLUE itself learns. Its map shows "what this
    branch sees"; it is not part of CLUE's prediction.
    """

    def __init__(self, in_channels: int, hidden: int, grid: int, scale_factor: int) -> None:
        super().__init__()
        self.grid = grid
        self.head = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, 1, 1))
        self.scale_factor = scale_factor

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.head(_to_grid(features.detach(), self.grid))
        return F.interpolate(logits, scale_factor=self.scale_factor, mode="bilinear", align_corners=False)
