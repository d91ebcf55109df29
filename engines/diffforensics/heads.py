"""The heads on the decoder: noise (stage 1), localization and detection (stage 2)."""

from __future__ import annotations

import torch
from torch import nn


class NoiseHead(nn.Module):
    """ε prediction, 3 channels at the input size."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, full: torch.Tensor) -> torch.Tensor:
        return self.conv(full)


class LocalizationHead(nn.Module):
    """Tampering logits, 1 channel at the input size."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, full: torch.Tensor) -> torch.Tensor:
        return self.conv(full)


class DetectionHead(nn.Module):
    """Image-level tampering logit from the finest and coarsest decoder blocks (d_1, d_3),
    each pooled by mean and max (the max lets a small edited region count), then an MLP."""

    def __init__(self, finest_channels: int, coarsest_channels: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(2 * (finest_channels + coarsest_channels), hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, finest: torch.Tensor, coarsest: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([finest.mean(dim=(2, 3)), finest.amax(dim=(2, 3)),
                            coarsest.mean(dim=(2, 3)), coarsest.amax(dim=(2, 3))], dim=1)
        return self.mlp(pooled).squeeze(1)
