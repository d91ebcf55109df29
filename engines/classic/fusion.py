"""Fusing the tools' z-maps into one heatmap, a mask and an image-level score.

heatmap = logistic((F - offset) / scale), where F is the weighted mean of the tools' z-maps,
each capped at `z_cap` so one tool cannot drown the others, smoothed with a Gaussian so that
the decision is about regions rather than single pixels. offset and scale are calibrated so
that 0.5 means "more unusual than 99 % of the pixels of a typical authentic photo".
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

# Calibration (training-free engine, so these constants are its only fitted numbers). Chosen on
# 12 authentic photos of ../shared/data/photos, the first 2 by file name from each of kodak24,
# cbsd68, mcmaster18, set14, sun_hays80 and debian-mate-backgrounds, each analysed as stored and
# after a Pillow JPEG re-save at quality 85 (24 images), with the default ClassicConfig:
# OFFSET is the median over those images of the 99th percentile of F (so about 1 % of an
# authentic image's pixels reach 0.5), and SCALE makes their median 90th percentile of F map to
# 0.1: (p99 - p90) / ln 9. Never fitted on the benchmarks.
LOGISTIC_OFFSET = 2.17
LOGISTIC_SCALE = 0.41
# The image score is logistic((A - SCORE_OFFSET) / SCORE_SCALE) of A, the fraction of the image
# in the cleaned mask. Chosen on the same 24 authentic images: SCORE_OFFSET is the 90th
# percentile of their A (so about 1 in 10 authentic images scores above 0.5), SCORE_SCALE its
# median absolute deviation from the median.
SCORE_OFFSET = 0.0255
SCORE_SCALE = 0.0091


def fused_z(
    z_maps: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    z_cap: float,
    smooth_sigma: float,
) -> np.ndarray:
    """Weighted mean of the tools' z-maps clipped to [0, z_cap], Gaussian-smoothed; H×W float32."""
    total = sum(weights[name] for name in z_maps)
    if total <= 0:
        raise ValueError("at least one classic tool needs a positive fusion weight")
    fused = sum(weights[name] * np.clip(z, 0.0, z_cap) for name, z in z_maps.items()) / total
    fused = np.asarray(fused, dtype=np.float32)
    return cv2.GaussianBlur(fused, (0, 0), smooth_sigma) if smooth_sigma > 0 else fused


def logistic(values: np.ndarray | float, offset: float, scale: float) -> np.ndarray:
    """1 / (1 + exp(-(values - offset) / scale)), float32."""
    x = np.clip((np.asarray(values, dtype=np.float32) - offset) / scale, -60.0, 60.0)
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def clean_mask(heatmap: np.ndarray, threshold: float, opening: int) -> np.ndarray:
    """heatmap > threshold (the metrics' convention), minus specks narrower than `opening` pixels (elliptic opening)."""
    mask = (heatmap > threshold).astype(np.uint8)
    if opening > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (opening, opening))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return mask.astype(bool)
