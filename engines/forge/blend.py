"""Putting edited pixels into a photo, and the exact footprint of what was written.

Every edit ends in `composite(original, edited, alpha)`: out = round((1−α)·original + α·edited),
so a pixel with α = 0 is bit-identical to the original. The ground-truth mask of a sample is that
footprint (α > 0): for a hard paste the region itself, for feathering the region grown by the
feather radius, for Poisson blending the region handed to OpenCV's `seamlessClone`.
"""

from __future__ import annotations

import cv2
import numpy as np

BLEND_MODES = ("hard", "feather", "poisson")
POISSON_PAD = 16
"""seamlessClone needs the region away from the image border; images are padded this much."""
POISSON_MAX_CHROMA_SHIFT = 20.0
"""Lab a/b distance by which Poisson blending may move the region's mean colour. Across a strong
seam it floods the region with the surroundings' hue (a dark animal turns blue against sky), which
no forger would keep; such blends fall back to feathering."""


def feather_alpha(mask: np.ndarray, radius: int) -> np.ndarray:
    """Soft α in [0, 1], quantised to 1/255 steps: the mask blurred over `radius` pixels."""
    if radius <= 0:
        return mask.astype(np.float32)
    size = 2 * radius + 1
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (size, size), sigmaX=radius / 2.0)
    return np.round(alpha * 255.0) / 255.0


def composite(original: np.ndarray, edited: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blend `edited` over `original` with α (H×W); returns (image, footprint α > 0)."""
    a = alpha.astype(np.float32)[:, :, None]
    out = original.astype(np.float32) * (1.0 - a) + edited.astype(np.float32) * a
    footprint = alpha > 0
    image = np.where(footprint[:, :, None], np.clip(np.rint(out), 0, 255).astype(np.uint8), original)
    return image, footprint


def poisson_clone(original: np.ndarray, source: np.ndarray, mask: np.ndarray, mixed: bool = False) -> np.ndarray:
    """Poisson-blend `source` (same size, already in place) into `original` inside `mask`."""
    pad = ((POISSON_PAD, POISSON_PAD), (POISSON_PAD, POISSON_PAD), (0, 0))
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    centre = (x + w // 2 + POISSON_PAD, y + h // 2 + POISSON_PAD)
    cloned = cv2.seamlessClone(
        np.pad(source, pad, mode="reflect"),
        np.pad(original, pad, mode="reflect"),
        np.pad(mask.astype(np.uint8) * 255, pad[:2]),
        centre,
        cv2.MIXED_CLONE if mixed else cv2.NORMAL_CLONE,
    )
    return cloned[POISSON_PAD:-POISSON_PAD, POISSON_PAD:-POISSON_PAD]


def chroma_shift(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> float:
    """Distance between the mean Lab chroma (a, b) of two images inside `mask`."""
    lab_before = cv2.cvtColor(before, cv2.COLOR_RGB2LAB)[mask].astype(np.float32)
    lab_after = cv2.cvtColor(after, cv2.COLOR_RGB2LAB)[mask].astype(np.float32)
    difference = lab_after[:, 1:].mean(0) - lab_before[:, 1:].mean(0)
    return float(np.hypot(*difference))


def blend(
    original: np.ndarray, source: np.ndarray, mask: np.ndarray, mode: str, radius: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Put `source` (aligned, same size) into `original` over `mask`.

    Returns (image, footprint, mode used): "poisson" becomes "feather" (with `radius`) when it
    would shift the region's colour by more than POISSON_MAX_CHROMA_SHIFT.
    """
    if mode == "poisson":
        cloned = poisson_clone(original, source, mask)
        if chroma_shift(source, cloned, mask) <= POISSON_MAX_CHROMA_SHIFT:
            return (*composite(original, cloned, mask.astype(np.float32)), mode)
        mode = "feather"
    if mode == "hard":
        return (*composite(original, source, mask.astype(np.float32)), mode)
    if mode == "feather":
        return (*composite(original, source, feather_alpha(mask, radius)), mode)
    raise ValueError(f"unknown blend mode {mode!r}; expected one of {BLEND_MODES}")


def match_colour(
    patch: np.ndarray, patch_mask: np.ndarray, reference: np.ndarray, reference_mask: np.ndarray, strength: float
) -> np.ndarray:
    """Move the Lab mean and spread of `patch` (inside its mask) toward the reference region's.

    `strength` 0 leaves the patch unchanged, 1 matches mean and standard deviation fully.
    """
    if strength <= 0 or not patch_mask.any() or not reference_mask.any():
        return patch
    lab = cv2.cvtColor(patch, cv2.COLOR_RGB2LAB).astype(np.float32)
    reference_lab = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    source_pixels, target_pixels = lab[patch_mask], reference_lab[reference_mask]
    mean_s, std_s = source_pixels.mean(0), source_pixels.std(0) + 1e-3
    mean_t, std_t = target_pixels.mean(0), target_pixels.std(0) + 1e-3
    gain = 1.0 + strength * (np.clip(std_t / std_s, 0.5, 2.0) - 1.0)
    shift = mean_s + strength * (mean_t - mean_s)
    matched = (lab - mean_s) * gain + shift
    return cv2.cvtColor(np.clip(np.rint(matched), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
