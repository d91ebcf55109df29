"""Error level analysis (ELA): how much each pixel changes when the image is saved as JPEG again.

A region that has been through the same JPEG history as the rest of the image changes about as
much as the rest; a pasted or retouched region that was compressed differently (or never) changes
more or less. What an analyst should ignore: ELA is always high on sharp edges, text, fine
texture and saturated colours in *any* image, and almost zero on flat areas and blown-out sky.
Compare regions of similar content, not edges against flat areas.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from engines.classic.content import log_local_contrast
from engines.classic.evidence import Evidence, conditional_z, scale_to_unit
from engines.data.perturb import Perturbation

DISPLAY_PERCENTILE = 99.0
"""The display divides by this percentile of the smoothed error, so a few hot pixels cannot
squash the rest of the map to black."""
MIN_DISPLAY_SCALE = 2.0
"""Grey levels: an image whose errors all stay below this is shown dark, not stretched."""
MIN_Z_SPREAD = 0.5
"""Grey levels: lower bound on the robust spread used for the z-score."""
TEXTURE_BINS = 8
"""Pixels are compared with the pixels in the same eighth of the local-contrast distribution."""


def error_levels(rgb: np.ndarray, qualities: Sequence[int], smooth_sigma: float) -> np.ndarray:
    """Mean over `qualities` of |rgb - JPEG(rgb, q)|, max over channels, Gaussian-smoothed.

    Returns float32 H×W in grey levels (0–255). Several qualities average out the quirks of any
    single quantisation table; the max over channels keeps a colour-only difference visible.
    """
    original = rgb.astype(np.int16)
    total = np.zeros(rgb.shape[:2], dtype=np.float32)
    for quality in qualities:
        resaved = Perturbation("jpeg", {"quality": quality}).apply(rgb)
        difference = np.abs(original - resaved).max(axis=2)
        total += difference.astype(np.float32)
    levels = total / len(qualities)
    if smooth_sigma > 0:
        levels = cv2.GaussianBlur(levels, (0, 0), smooth_sigma)
    return levels


def error_level_analysis(
    rgb: np.ndarray, qualities: Sequence[int], smooth_sigma: float
) -> Evidence:
    """ELA map: display = error / its 99th percentile (the classic picture, edges included).

    z = |robust z-score of the error against pixels of similar local contrast| (see
    `evidence.conditional_z`), so edges are compared with edges; errors both higher and lower
    than expected for the content count.
    """
    levels = error_levels(rgb, qualities, smooth_sigma)
    texture = cv2.GaussianBlur(log_local_contrast(rgb), (0, 0), smooth_sigma)
    return Evidence(
        display=scale_to_unit(levels, DISPLAY_PERCENTILE, MIN_DISPLAY_SCALE),
        z=np.abs(conditional_z(levels, texture, TEXTURE_BINS, MIN_Z_SPREAD)),
    )
