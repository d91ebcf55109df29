"""Turning maps into pictures: colour-mapped heatmaps, overlays and mask outlines.

Shared by the GUI and by the report files the command line writes, so both show the same thing.
"""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib import colormaps

COLORMAPS = ("inferno", "jet", "viridis", "magma", "gray")


def colorize(values: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """float map in [0, 1] -> RGB uint8 through a matplotlib colormap."""
    lut = (colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    index = np.clip(np.asarray(values, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return lut[index]


def overlay(
    rgb: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = 0.5,
    cmap: str = "inferno",
) -> np.ndarray:
    """Blend the colour-mapped heatmap over the image at a uniform opacity."""
    colored = colorize(heatmap, cmap).astype(np.float32)
    alpha = float(opacity)
    return (rgb.astype(np.float32) * (1.0 - alpha) + colored * alpha + 0.5).astype(np.uint8)


def mask_outline(rgb: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = (0, 255, 0)) -> np.ndarray:
    """Draw the mask's contour over the image (2 px per 1000 px of the long side, at least 1)."""
    out = np.ascontiguousarray(rgb.copy())
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(2 * max(mask.shape) / 1000))
    cv2.drawContours(out, contours, -1, color, thickness)
    return out


def mask_image(mask: np.ndarray) -> np.ndarray:
    """bool mask -> 0/255 uint8 (the benchmark mask convention)."""
    return np.where(mask, 255, 0).astype(np.uint8)


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float map to (height, width)."""
    if values.shape == (height, width):
        return values.astype(np.float32, copy=False)
    return cv2.resize(values.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
