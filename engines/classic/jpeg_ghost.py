"""JPEG ghosts (Farid 2009): a region once saved at a lower quality than the rest of the image.

Re-saving a JPEG at quality q changes it least where it was already quantised at q. So the
difference between the image and its re-compression, plotted against q, dips at the quality a
region was last saved at. A pasted region saved earlier at another quality dips at another q:
it is a "ghost" in the difference map for that q. What an analyst should ignore: flat areas
(nothing to quantise; damped here by a confidence weight), and the whole map when the image was
never a JPEG (PNG, raw) or was re-saved at a much lower quality, which erases earlier traces.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from engines.classic.evidence import Evidence, robust_z, z_to_unit
from engines.data.perturb import Perturbation

MIN_Z_SPREAD = 0.02
"""Lower bound on the robust spread of the ghost strength (a unitless 0–1 quantity)."""
DISPLAY_FULL_SCALE_Z = 6.0
"""z at which the ghost display saturates to 1. The raw strength is not shown: its level varies
from photo to photo (authentic 99th percentiles of 0.05–0.3) as much as a ghost raises it."""


def difference_curves(rgb: np.ndarray, qualities: Sequence[int], window: int) -> np.ndarray:
    """(len(qualities), H, W) float32: squared re-compression error averaged over a window.

    d_q(x) = mean over a window×window neighbourhood and the 3 channels of (f - JPEG_q(f))².
    """
    original = rgb.astype(np.float32)
    curves = np.empty((len(qualities), *rgb.shape[:2]), dtype=np.float32)
    for index, quality in enumerate(qualities):
        resaved = Perturbation("jpeg", {"quality": quality}).apply(rgb).astype(np.float32)
        squared = ((original - resaved) ** 2).mean(axis=2)
        curves[index] = cv2.blur(squared, (window, window))
    return curves


def jpeg_ghost(rgb: np.ndarray, qualities: Sequence[int], window: int) -> Evidence:
    """Ghost strength per pixel: how much deeper its difference curve dips than the image's.

    Each pixel's curve is normalised to [0, 1] over q (Farid's normalisation). The image's
    dominant behaviour is the median normalised curve; the ghost strength is the largest amount
    by which the pixel's curve lies below it at any q — i.e. the pixel's minimum-difference
    quality differs from the image's dominant one — times a confidence span / (span + median
    span) that silences flat areas whose curves are all near zero. z is the strength's robust
    z-score; the display is z / 6, clipped to [0, 1]. Fact `jpeg_dominant_quality`: where the
    median curve is lowest, i.e. about the quality the image was last saved at; an image with
    no JPEG history also gives the highest quality tried.
    """
    curves = difference_curves(rgb, qualities, window)
    low, high = curves.min(axis=0), curves.max(axis=0)
    span = high - low
    normalised = (curves - low) / np.maximum(span, 1e-6)
    typical = np.median(normalised.reshape(len(qualities), -1), axis=1)
    dips = typical[:, None, None] - normalised
    confidence = span / (span + max(float(np.median(span)), 1e-6))
    strength = np.clip(dips.max(axis=0), 0.0, 1.0) * confidence
    z = robust_z(strength, MIN_Z_SPREAD)
    return Evidence(
        display=z_to_unit(z, DISPLAY_FULL_SCALE_Z),
        z=z,
        facts={"jpeg_dominant_quality": int(qualities[int(typical.argmin())])},
    )
