"""Fractal simplex noise for the diffusion forward process, vectorised in torch.

DiffForensics (after AnoDDPM) corrupts images with simplex noise instead of Gaussian noise: a sum
of `octaves` layers of 2-D simplex noise, the first at `start_frequency` cycles per pixel (2⁻⁶:
features about 64 px wide), each next layer at twice the frequency and `persistence` times the
amplitude (ν = 2⁻⁶, N = 6, γ = 0.8 in the paper). Unlike Gaussian noise it is spatially
structured: neighbouring pixels are strongly correlated.

Every (sample, channel, octave) layer is an independent noise field with its own random
permutation table (AnoDDPM draws a new simplex seed per channel) and a random lattice offset, all
drawn from the given generator, so a seed fixes the noise exactly. The whole batch is computed with
tensor operations, one octave at a time, with no Python loop over pixels.

Normalisation (differs from AnoDDPM, which leaves the octave sum as it is): each channel of each
sample is standardised to zero mean and unit variance over its pixels, so that
x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε has the same signal-to-noise ratio at a given t as with Gaussian ε and
the two noise types can be compared at equal settings.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from engines.errors import WorkbenchError

NoiseKind = Literal["simplex", "gaussian"]
NOISE_KINDS: tuple[str, ...] = ("simplex", "gaussian")

_SKEW = 0.5 * (math.sqrt(3.0) - 1.0)
_UNSKEW = (3.0 - math.sqrt(3.0)) / 6.0
_TABLE = 256
_GRADIENTS = 16
_RADIUS_SQUARED = 0.5


def _gradient_tables(perm: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-field lookup tables of the gradient at each hash value: unit vectors at 16 evenly
    spaced angles (more isotropic than the 8 axis/diagonal ones), chosen by `perm % 16`."""
    angles = (perm % _GRADIENTS).to(dtype) * (2 * math.pi / _GRADIENTS)
    return torch.cos(angles), torch.sin(angles)


def _random_permutations(fields: int, generator: torch.Generator | None,
                         device: torch.device) -> torch.Tensor:
    """One random permutation of 0..255 per field, repeated once (F × 512) so that lookups of
    `i + perm[j]` never need wrapping."""
    keys = torch.rand(fields, _TABLE, generator=generator, device=device)
    perm = keys.argsort(dim=1)
    return torch.cat([perm, perm], dim=1)


def simplex_2d(x: torch.Tensor, y: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """2-D simplex noise (Gustavson's formulation) of F fields at N shared points.

    x, y: N coordinates in lattice units, shared by every field; perm: F × 512 permutation
    tables (see `_random_permutations`), one per field. Returns F × N values in about [−0.7, 0.7].
    The lattice geometry (simplex corners, offsets, radial falloff) depends only on the points, so
    it is computed once; only the hashing and the gradient dot products are done per field.
    """
    gradient_x, gradient_y = _gradient_tables(perm, x.dtype)
    skew = (x + y) * _SKEW
    i = torch.floor(x + skew)
    j = torch.floor(y + skew)
    unskew = (i + j) * _UNSKEW
    x0 = x - (i - unskew)
    y0 = y - (j - unskew)
    i1 = (x0 > y0).to(x.dtype)
    j1 = 1.0 - i1
    corners = (
        (x0, y0, 0, 0),
        (x0 - i1 + _UNSKEW, y0 - j1 + _UNSKEW, i1.long(), j1.long()),
        (x0 - 1.0 + 2.0 * _UNSKEW, y0 - 1.0 + 2.0 * _UNSKEW, 1, 1),
    )
    ii = (i.long() & (_TABLE - 1)).expand(perm.shape[0], -1)
    jj = (j.long() & (_TABLE - 1)).expand(perm.shape[0], -1)
    total = torch.zeros(perm.shape[0], x.shape[-1], dtype=x.dtype, device=x.device)
    for dx, dy, di, dj in corners:
        weight = (_RADIUS_SQUARED - dx * dx - dy * dy).clamp(min=0.0) ** 4
        hashed = ii + di + perm.gather(1, jj + dj)
        dot = gradient_x.gather(1, hashed) * (weight * dx) + gradient_y.gather(1, hashed) * (weight * dy)
        total += dot
    return 70.0 * total


def simplex_noise(
    shape: tuple[int, int, int, int],
    generator: torch.Generator | None = None,
    *,
    start_frequency: float = 2.0**-6,
    octaves: int = 6,
    persistence: float = 0.8,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """B × C × H × W fractal simplex noise, each channel standardised (see the module docstring).

    `generator` must live on `device` (default CPU). Each octave's lattice gets a random offset
    (shared by the fields of that octave), so the octaves' lattice vertices, where simplex noise
    is zero, do not line up into a visible grid.
    """
    if len(shape) != 4:
        raise WorkbenchError(f"simplex_noise needs a B×C×H×W shape, got {shape}")
    if octaves < 1 or start_frequency <= 0 or persistence <= 0:
        raise WorkbenchError(
            f"simplex noise needs octaves >= 1, start_frequency > 0 and persistence > 0; got "
            f"{octaves}, {start_frequency}, {persistence}"
        )
    batch, channels, height, width = shape
    device = torch.device(device) if device is not None else torch.device("cpu")
    fields = batch * channels
    rows = torch.arange(height, device=device, dtype=torch.float32).view(height, 1)
    cols = torch.arange(width, device=device, dtype=torch.float32).view(1, width)
    noise = torch.zeros(fields, height * width, device=device)
    for octave in range(octaves):
        frequency = start_frequency * 2.0**octave
        offset = torch.rand(2, generator=generator, device=device) * _TABLE
        perm = _random_permutations(fields, generator, device)
        x = (cols * frequency + offset[0]).expand(height, width).reshape(-1)
        y = (rows * frequency + offset[1]).expand(height, width).reshape(-1)
        noise += persistence**octave * simplex_2d(x, y, perm)
    noise = noise - noise.mean(dim=1, keepdim=True)
    noise = noise / noise.std(dim=1, keepdim=True).clamp(min=1e-6)
    return noise.view(batch, channels, height, width)


def make_noise(
    kind: NoiseKind,
    shape: tuple[int, int, int, int],
    generator: torch.Generator | None = None,
    *,
    start_frequency: float = 2.0**-6,
    octaves: int = 6,
    persistence: float = 0.8,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """ε for the forward process: "simplex" (the paper) or "gaussian" (vanilla DDPM, ablation)."""
    if kind == "simplex":
        return simplex_noise(shape, generator, start_frequency=start_frequency, octaves=octaves,
                             persistence=persistence, device=device)
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, device=device)
    raise WorkbenchError(f"Unknown noise kind {kind!r}; use one of {', '.join(NOISE_KINDS)}.")
