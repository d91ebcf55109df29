"""The feature adapter: a residual correction of each scale computed from the perturbed streams.

Per scale s with C channels: concat(blur, noise) (2C) → 1×1 conv → hidden → GELU → Dropout2d →
1×1 conv hidden → hidden → GELU → 1×1 conv hidden → C = ΔF; adapted = original + ΔF. The original
stream only enters through the residual. Module names are the released checkpoint's
(`mlps_tune.{s}`, `mlps_bottleneck.{s}.0`, `mlp_up.{s}`); with hidden 64 and scales
(256, 32, 64) it has 80,608 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FeatureAdapter(nn.Module):
    def __init__(
        self,
        scale_channels: Sequence[int],
        hidden_dim: int,
        perturbed_streams: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.mlps_tune = nn.ModuleList(
            nn.Conv2d(perturbed_streams * channels, hidden_dim, kernel_size=1)
            for channels in scale_channels
        )
        self.mlps_bottleneck = nn.ModuleList(
            nn.Sequential(nn.Conv2d(hidden_dim, hidden_dim, kernel_size=1), nn.GELU())
            for _ in scale_channels
        )
        self.mlp_up = nn.ModuleList(
            nn.Conv2d(hidden_dim, channels, kernel_size=1) for channels in scale_channels
        )
        self.activation = nn.GELU()
        self.dropout = nn.Dropout2d(dropout)

    def forward(
        self, original: Sequence[torch.Tensor], perturbed: Sequence[Sequence[torch.Tensor]]
    ) -> list[torch.Tensor]:
        """`original[s]` is (B, C_s, H_s, W_s); `perturbed[s]` lists the perturbed streams of
        scale s in stream order. Returns the adapted features, shaped like `original`."""
        adapted = []
        for scale, (features, streams) in enumerate(zip(original, perturbed, strict=True)):
            hidden = self.mlps_tune[scale](torch.cat(list(streams), 1))
            hidden = self.dropout(self.activation(hidden))
            delta = self.mlp_up[scale](self.mlps_bottleneck[scale](hidden))
            adapted.append(features + delta)
        return adapted
