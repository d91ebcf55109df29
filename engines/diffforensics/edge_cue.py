"""The Edge Cue Enhancement Module (paper Eq. 2–3), applied to each of three decoder blocks.

g_k = |V ∗ |H ∗ d_k|| with H = [1, −1] and V = [1, −1]ᵀ: the absolute difference of adjacent
columns, written to the current column, then the absolute difference of adjacent rows of that,
written to the current row (the last column/row, which has no neighbour, gets 0). Composed like
this, g_k is a mixed second difference: it is zero along a straight horizontal or vertical step
and responds at corners and in texture. f_k = U(σ(Conv3×3(d_k − g_k))) is the edge probability map
of scale k; the 3×3 convolution, trained against the edge label, does the edge detection proper.

We return logits Conv3×3(d_k − g_k) upsampled bilinearly, and apply σ after upsampling (σ and
bilinear upsampling nearly commute); this lets the edge loss use the shared logit-based Dice loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def edge_cues(features: torch.Tensor) -> torch.Tensor:
    """g = |V ∗ |H ∗ d|| on the last two axes of a B × C × H × W tensor (same shape)."""
    horizontal = torch.diff(features, dim=-1, append=features[..., -1:]).abs()
    return torch.diff(horizontal, dim=-2, append=horizontal[..., -1:, :]).abs()


class EdgeCueModule(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Edge logits at `size` (the input size); σ of them is f_k."""
        logits = self.conv(features - edge_cues(features))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
