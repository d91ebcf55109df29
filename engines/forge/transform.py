"""Cutting a region out as a patch, warping it (scale, rotation, flip) and placing it elsewhere.

A patch keeps `MARGIN` pixels of real surroundings around its mask, so feathering and Poisson
blending have genuine pixels to blend just outside the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MARGIN = 16


@dataclass(frozen=True)
class Patch:
    pixels: np.ndarray
    """h×w×3 uint8: the region and up to MARGIN pixels of its surroundings."""
    mask: np.ndarray
    """h×w bool: the region inside the patch."""


def cut_patch(rgb: np.ndarray, mask: np.ndarray, margin: int = MARGIN) -> Patch:
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    height, width = mask.shape
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
    return Patch(rgb[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy())


def warp_patch(patch: Patch, scale: float, angle_deg: float, flip: bool, margin: int = MARGIN) -> Patch:
    """Flip (horizontally), then rotate by `angle_deg` and scale about the patch centre."""
    pixels, mask = patch.pixels, patch.mask.astype(np.float32)
    if flip:
        pixels, mask = pixels[:, ::-1], mask[:, ::-1]
    h, w = mask.shape
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, scale)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ matrix.T
    low, high = corners.min(0), corners.max(0)
    matrix[:, 2] -= low
    out_w, out_h = (int(np.ceil(v)) + 1 for v in high - low)
    warped = cv2.warpAffine(
        np.ascontiguousarray(pixels), matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    warped_mask = cv2.warpAffine(np.ascontiguousarray(mask), matrix, (out_w, out_h), flags=cv2.INTER_LINEAR) > 0.5
    return cut_patch(warped, warped_mask, margin)


def position_range(patch: Patch, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x_min, x_max, y_min, y_max) of top-left positions that keep the whole mask inside `shape`."""
    x, y, w, h = cv2.boundingRect(patch.mask.astype(np.uint8))
    height, width = shape
    x_min, x_max = -x, width - (x + w)
    y_min, y_max = -y, height - (y + h)
    if x_max < x_min or y_max < y_min:
        return None
    return x_min, x_max, y_min, y_max


def place(canvas: np.ndarray, patch: Patch, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """The canvas with the patch pixels at top-left (x, y) (clipped), and the placed mask."""
    height, width = canvas.shape[:2]
    h, w = patch.mask.shape
    cx0, cy0, cx1, cy1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    px0, py0 = cx0 - x, cy0 - y
    source = canvas.copy()
    mask = np.zeros((height, width), bool)
    source[cy0:cy1, cx0:cx1] = patch.pixels[py0 : py0 + cy1 - cy0, px0 : px0 + cx1 - cx0]
    mask[cy0:cy1, cx0:cx1] = patch.mask[py0 : py0 + cy1 - cy0, px0 : px0 + cx1 - cx0]
    return source, mask


def random_position(
    patch: Patch,
    shape: tuple[int, int],
    rng: np.random.Generator,
    forbidden: np.ndarray | None = None,
    tries: int = 30,
) -> tuple[int, int] | None:
    """A top-left position keeping the mask inside the image and off `forbidden` pixels."""
    bounds = position_range(patch, shape)
    if bounds is None:
        return None
    x_min, x_max, y_min, y_max = bounds
    for _ in range(tries if forbidden is not None else 1):
        x, y = int(rng.integers(x_min, x_max + 1)), int(rng.integers(y_min, y_max + 1))
        if forbidden is None:
            return x, y
        _, placed = place(np.zeros((*shape, 3), np.uint8), patch, x, y)
        if not (placed & forbidden).any():
            return x, y
    return None
