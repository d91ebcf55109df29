"""Perturbations of float image batches (B×C×H×W in [0, 1]) inside a model's forward pass.

Detective SAM perturbs its input before the frozen encoder (the authors' code: Gaussian blur with
a 5×5 kernel, σ=1.5, zero padding; then Gaussian noise std 0.15 clamped to [0, 1]; the paper also
uses JPEG re-compression). Uint8 image
perturbations for evaluation and data synthesis live in `engines.data.perturb`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engines.errors import WorkbenchError
from engines.data.perturb import jpeg


def gaussian_kernel1d(sigma: float, kernel: int, *, device: torch.device | None = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised samples of exp(−x²/2σ²) at the integer offsets of an odd-sized window."""
    if kernel < 1 or kernel % 2 == 0:
        raise WorkbenchError(f"blur kernel must be an odd size >= 1, got {kernel}")
    if sigma <= 0:
        raise WorkbenchError(f"blur sigma must be > 0, got {sigma}")
    offsets = torch.arange(kernel, device=device, dtype=dtype) - (kernel - 1) / 2
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def blur_tensor(x: torch.Tensor, sigma: float, kernel: int) -> torch.Tensor:
    """Per-channel Gaussian blur with zero padding (borders darken, as in the authors' code)."""
    if x.ndim != 4:
        raise WorkbenchError(f"blur_tensor needs a B×C×H×W tensor, got shape {tuple(x.shape)}")
    weights1d = gaussian_kernel1d(sigma, kernel, device=x.device, dtype=x.dtype)
    channels = x.shape[1]
    weights = torch.outer(weights1d, weights1d).expand(channels, 1, kernel, kernel)
    return F.conv2d(x, weights, padding=kernel // 2, groups=channels)


def noise_tensor(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + N(0, std²) per element, clamped to [0, 1]; `generator` must live on x's device."""
    if std < 0:
        raise WorkbenchError(f"noise std must be >= 0, got {std}")
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + std * noise).clamp(0.0, 1.0)


def jpeg_tensor(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Each image re-compressed as a JPEG at `quality` (`engines.data.perturb.jpeg`, on the CPU), back
    in [0, 1] on x's device and dtype. Not differentiable: it perturbs inputs of frozen encoders
    only."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise WorkbenchError(f"jpeg_tensor needs a B×3×H×W tensor, got shape {tuple(x.shape)}")
    if not 1 <= quality <= 100:
        raise WorkbenchError(f"JPEG quality must be 1–100, got {quality}")
    as_bytes = (x.detach().float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).cpu()
    decoded = [torch.from_numpy(jpeg(image.permute(1, 2, 0).numpy(), quality)).permute(2, 0, 1)
               for image in as_bytes]
    return torch.stack(decoded).to(device=x.device, dtype=x.dtype) / 255.0
