"""TAEF2: the tiny autoencoder for FLUX.2 latents (madebyollin/taesd, MIT), written for this project.

Architecture (matching the released `taef2_encoder.pth` / `taef2_decoder.pth` key layout, plain
`nn.Sequential` state dicts): the TAESD encoder/decoder with 32 latent channels and a spatial
factor of 8, where the three blocks at latent resolution ("mid blocks") carry an extra global
branch: a 1×1 expansion to 4× width, GroupNorm with 4 groups, ReLU, a 1×1 projection, added to the
block input. Images go in and come out in [0, 1]; latents are used raw (no scale or shift).

Used by the forge (latent "regeneration" of a region, imitating latent-diffusion inpainting) and
by the CLUE engine.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

LATENT_CHANNELS = 32
SPATIAL_FACTOR = 8
WIDTH = 64
ENCODER_WEIGHT = "taef2_encoder"
DECODER_WEIGHT = "taef2_decoder"


def _conv3x3(n_in: int, n_out: int, *, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class SoftClamp(nn.Module):
    """Smoothly limits decoder inputs to (-3, 3): 3·tanh(x/3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class ResidualBlock(nn.Module):
    """Three 3×3 convolutions with a residual connection; optionally the global GroupNorm branch."""

    def __init__(self, channels: int, global_branch: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv3x3(channels, channels), nn.ReLU(), _conv3x3(channels, channels), nn.ReLU(),
            _conv3x3(channels, channels),
        )
        self.fuse = nn.ReLU()
        self.pool: nn.Sequential | None = None
        if global_branch:
            wide = channels * 4
            self.pool = nn.Sequential(
                nn.Conv2d(channels, wide, 1, bias=False), nn.GroupNorm(4, wide), nn.ReLU(),
                nn.Conv2d(wide, channels, 1, bias=False),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


def build_encoder(latent_channels: int = LATENT_CHANNELS) -> nn.Sequential:
    """RGB in [0, 1] (B×3×H×W, H and W multiples of 8) -> raw latents B×32×H/8×W/8."""
    return nn.Sequential(
        _conv3x3(3, WIDTH), ResidualBlock(WIDTH),
        _conv3x3(WIDTH, WIDTH, stride=2, bias=False), *(ResidualBlock(WIDTH) for _ in range(3)),
        _conv3x3(WIDTH, WIDTH, stride=2, bias=False), *(ResidualBlock(WIDTH) for _ in range(3)),
        _conv3x3(WIDTH, WIDTH, stride=2, bias=False), *(ResidualBlock(WIDTH, True) for _ in range(3)),
        _conv3x3(WIDTH, latent_channels),
    )


def build_decoder(latent_channels: int = LATENT_CHANNELS) -> nn.Sequential:
    """Raw latents B×32×h×w -> RGB B×3×8h×8w (about [0, 1]; clamp before use)."""

    def upsample() -> list[nn.Module]:
        return [nn.Upsample(scale_factor=2), _conv3x3(WIDTH, WIDTH, bias=False)]

    return nn.Sequential(
        SoftClamp(), _conv3x3(latent_channels, WIDTH), nn.ReLU(),
        *(ResidualBlock(WIDTH, True) for _ in range(3)), *upsample(),
        *(ResidualBlock(WIDTH) for _ in range(3)), *upsample(),
        *(ResidualBlock(WIDTH) for _ in range(3)), *upsample(),
        ResidualBlock(WIDTH), _conv3x3(WIDTH, 3),
    )


class TAEF2(nn.Module):
    """Encoder + decoder pair; `encode`/`decode` work on float tensors in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = build_encoder()
        self.decoder = build_decoder()

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """B×3×H×W in [0, 1] -> B×32×H/8×W/8 raw latents (H, W must be multiples of 8)."""
        height, width = rgb.shape[-2:]
        if height % SPATIAL_FACTOR or width % SPATIAL_FACTOR:
            raise ValueError(f"TAEF2 needs sides that are multiples of 8, got {width}×{height}")
        return self.encoder(rgb)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Raw latents -> B×3×8h×8w clamped to [0, 1]."""
        return self.decoder(latents).clamp(0, 1)


def load_taef2(
    encoder_path: Path | str | None = None,
    decoder_path: Path | str | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> TAEF2:
    """TAEF2 with its released weights (strict), in eval mode without gradients.

    Paths default to the model store's `taef2_encoder` / `taef2_decoder` (sha256-checked).
    """
    from engines.store.model_store import get_store, load_state_dict

    store = get_store()
    model = TAEF2()
    model.encoder.load_state_dict(load_state_dict(encoder_path or store.path(ENCODER_WEIGHT)), strict=True)
    model.decoder.load_state_dict(load_state_dict(decoder_path or store.path(DECODER_WEIGHT)), strict=True)
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)
