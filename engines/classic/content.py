"""Local image content (texture/contrast), the covariate the tools compare like with like by."""

from __future__ import annotations

import cv2
import numpy as np

PRE_BLUR_SIGMA = 1.0
"""Pixels: blur before measuring, so that added noise barely raises the measured texture."""
CONTRAST_OFFSET = 1.0
"""Grey levels added before the log, so that flat areas map to about 0 instead of -inf."""


def grey(rgb: np.ndarray) -> np.ndarray:
    """Luma in float32, converted from float so that it is not rounded back to integer levels
    (rounding would quantise the noise estimate of clean images to a few values)."""
    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY)


def log_local_contrast(rgb: np.ndarray, window: int = 8) -> np.ndarray:
    """log(1 + local standard deviation of the lightly blurred luma over window×window), H×W."""
    blurred = cv2.GaussianBlur(grey(rgb), (0, 0), PRE_BLUR_SIGMA)
    mean = cv2.blur(blurred, (window, window))
    mean_of_squares = cv2.blur(blurred * blurred, (window, window))
    deviation = np.sqrt(np.maximum(mean_of_squares - mean * mean, 0.0))
    return np.log(deviation + CONTRAST_OFFSET).astype(np.float32)
