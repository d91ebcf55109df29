"""The UNet-style decoder with a timestep embedding (the part stage 1 trains).

Three decoder blocks upsample the encoder's stride-32 features to strides 16, 8 and 4, each
concatenating the encoder's skip features of its scale (as in UNet); a full-resolution stage then
upsamples to the input size and concatenates the input pixels themselves, so the noise head can
predict per-pixel noise. Every block adds a projection of the timestep embedding to its features
(as DDPM's residual blocks do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The transformer/DDPM sinusoidal embedding of (float) timesteps, B × dim."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float().view(-1, 1) * frequencies.view(1, -1)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.dim))


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


class DecoderBlock(nn.Module):
    """Upsample ×2, concatenate the skip, conv-norm-(+time)-SiLU, conv-norm-SiLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, time_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1)
        self.norm1 = group_norm(out_channels)
        self.time = nn.Linear(time_dim, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm2 = group_norm(out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        h = self.norm1(self.conv1(torch.cat([x, skip], dim=1)))
        h = F.silu(h + self.time(F.silu(time))[:, :, None, None])
        return F.silu(self.norm2(self.conv2(h)))


class FullResolutionStage(nn.Module):
    """Stride 4 -> input size: reduce channels, upsample, concatenate the input, conv."""

    def __init__(self, in_channels: int, out_channels: int, time_dim: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, out_channels, 1)
        self.conv = nn.Conv2d(out_channels + 3, out_channels, 3, padding=1)
        self.norm = group_norm(out_channels)
        self.time = nn.Linear(time_dim, out_channels)

    def forward(self, x: torch.Tensor, image: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.reduce(x), size=image.shape[-2:], mode="bilinear", align_corners=False)
        h = self.norm(self.conv(torch.cat([x, image], dim=1)))
        return F.silu(h + self.time(F.silu(time))[:, :, None, None])


@dataclass
class DecoderOutput:
    blocks: list[torch.Tensor]
    """d_1 (stride 4), d_2 (stride 8), d_3 (stride 16): the edge-cue scales, finest first."""
    full: torch.Tensor
    """Full-resolution features for the noise and localization heads."""


class UNetDecoder(nn.Module):
    def __init__(self, encoder_channels: tuple[int, int, int, int], widths: tuple[int, int, int],
                 full_resolution_channels: int, time_dim: int) -> None:
        super().__init__()
        s4, s8, s16, s32 = encoder_channels
        w16, w8, w4 = widths
        self.blocks = nn.ModuleList([
            DecoderBlock(s32, s16, w16, time_dim),
            DecoderBlock(w16, s8, w8, time_dim),
            DecoderBlock(w8, s4, w4, time_dim),
        ])
        self.full_resolution = FullResolutionStage(w4, full_resolution_channels, time_dim)

    def forward(self, features: list[torch.Tensor], image: torch.Tensor, time: torch.Tensor) -> DecoderOutput:
        """`features` at strides 4, 8, 16, 32; `image` the encoder's input (x_t or x)."""
        s4, s8, s16, s32 = features
        outputs = []
        x = s32
        for block, skip in zip(self.blocks, (s16, s8, s4), strict=True):
            x = block(x, skip, time)
            outputs.append(x)
        return DecoderOutput(blocks=outputs[::-1], full=self.full_resolution(x, image, time))
