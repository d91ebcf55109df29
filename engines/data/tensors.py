"""Moving images and maps between numpy (original size) and model tensors (square input)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

from engines.reports.render import resize_map


def to_square_input(rgb: np.ndarray, size: int, antialias: bool = False) -> torch.Tensor:
    """H×W×3 uint8 -> 1×3×size×size float in [0, 1]; bilinear, aspect not kept (as the methods do).

    `antialias`: Pillow's bilinear, which widens its filter by the shrink factor (a low-pass, as
    e.g. the Detective SAM authors resize); otherwise OpenCV's INTER_LINEAR, which samples the
    nearest 2×2 pixels only and so aliases fine detail when shrinking. Both agree within 1/255 on
    an enlargement.
    """
    if antialias:
        resized = np.array(Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR))
    else:
        resized = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(resized).permute(2, 0, 1).float().div_(255.0).unsqueeze(0)


def mask_to_square(mask: np.ndarray, size: int) -> np.ndarray:
    """bool H×W -> bool size×size by area coverage (a pixel is tampered if over half of it is)."""
    coverage = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return coverage > 0.5


def to_original_size(values: torch.Tensor, height: int, width: int) -> np.ndarray:
    """A 2-D (or 1×1×h×w) tensor map -> float32 numpy map at the original image size."""
    array = values.detach().float().cpu().squeeze().numpy()
    return resize_map(array, height, width)


def top_fraction_mean(probabilities: torch.Tensor, fraction: float = 0.01) -> float:
    """Mean of the highest `fraction` of values: a max that one stray pixel cannot set."""
    flat = probabilities.flatten()
    count = max(1, int(round(flat.numel() * fraction)))
    return float(flat.topk(count).values.mean())
