"""Noise tools: the high-pass noise residual and inconsistencies in the local noise level.

Every camera image carries sensor noise of a fairly uniform strength (for given content and
brightness); a region pasted from another photo, or blurred, denoised or synthesised, usually
carries a different level (Mahdian & Saic 2009). What an analyst should ignore: the residual is
high on any texture and edge; the noise level is legitimately zero in clipped highlights and
shadows (excluded here), and strong JPEG compression flattens it in smooth areas such as sky.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engines.classic.content import grey, log_local_contrast
from engines.classic.evidence import Evidence, conditional_z, scale_to_unit, z_to_unit

GAUSSIAN_MAD = 0.6745
"""median(|x|) / sigma for zero-mean Gaussian noise (Donoho's wavelet noise estimator)."""
DISPLAY_PERCENTILE = 99.0
MIN_RESIDUAL_SCALE = 1.0
"""Grey levels: a residual map whose 99th percentile is below this is shown dark."""
SIGMA_FLOOR = 0.5
"""Grey levels added to sigma before the log: keeps near-noiseless (JPEG-flattened) areas from
dominating the anomaly through log(0)."""
MIN_LOG_SPREAD = 0.2
"""Lower bound on the robust spread of log-sigma (about 20 % noise-level variation)."""
TEXTURE_BINS = 8
"""Blocks are compared with the blocks in the same eighth of the texture distribution."""
SATURATED_LOW, SATURATED_HIGH = 6.0, 249.0
"""Blocks whose mean grey level lies outside this range are clipped: no noise to measure."""
DISPLAY_FULL_SCALE_Z = 4.0
"""|z| at which the anomaly display saturates to 1."""


def noise_residual(rgb: np.ndarray, smooth_sigma: float) -> np.ndarray:
    """|grey - median3×3(grey)|, smoothed, divided by its 99th percentile; display only.

    Shows where the image holds high-frequency content; compare areas of similar texture.
    """
    grey_u8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    residual = np.abs(grey_u8.astype(np.float32) - cv2.medianBlur(grey_u8, 3).astype(np.float32))
    if smooth_sigma > 0:
        residual = cv2.GaussianBlur(residual, (0, 0), smooth_sigma)
    return scale_to_unit(residual, DISPLAY_PERCENTILE, MIN_RESIDUAL_SCALE)


def _diagonal_haar(luma: np.ndarray) -> np.ndarray:
    """HH band of a one-level orthonormal Haar transform (half resolution): mostly noise."""
    height, width = (luma.shape[0] // 2) * 2, (luma.shape[1] // 2) * 2
    a, b = luma[0:height:2, 0:width:2], luma[0:height:2, 1:width:2]
    c, d = luma[1:height:2, 0:width:2], luma[1:height:2, 1:width:2]
    return (a - b - c + d) / 2.0


def fitting_block(block: int, shape: tuple[int, int]) -> int:
    """`block`, shrunk (to a multiple of 4, at least 4) for images smaller than one block."""
    return max(4, min(block, (min(shape) // 4) * 4))


def local_noise_sigma(luma: np.ndarray, block: int) -> np.ndarray:
    """Noise sigma of each block×block block, blocks every block/2 pixels: a (rows, cols) grid.

    sigma = median(|HH|) / 0.6745 over the block's diagonal Haar coefficients. `block` must be
    a multiple of 4 no larger than the image's shorter side.
    """
    size, step = block // 2, block // 4
    windows = sliding_window_view(_diagonal_haar(luma), (size, size))[::step, ::step]
    flat = windows.reshape(windows.shape[0], windows.shape[1], size * size)
    return (np.median(np.abs(flat), axis=2) / GAUSSIAN_MAD).astype(np.float32)


def block_means(image: np.ndarray, block: int, grid_shape: tuple[int, int]) -> np.ndarray:
    """Mean of `image` over the same half-overlapping blocks as `local_noise_sigma`."""
    stride = block // 2
    means = cv2.blur(image, (block, block), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    rows, cols = grid_shape
    return np.ascontiguousarray(means[: rows * stride : stride, : cols * stride : stride])


def grid_to_image(grid: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a half-overlapping block grid, each value at its block centre."""
    stride = block // 2
    rows, cols = grid.shape
    upsampled = cv2.resize(grid, (cols * stride, rows * stride), interpolation=cv2.INTER_LINEAR)
    # cv2 puts cell i's centre at (i + 0.5)·stride; the block centre is at i·stride + block/2.
    offset = block // 2 - stride // 2
    bottom = max(shape[0] - offset - upsampled.shape[0], 0)
    right = max(shape[1] - offset - upsampled.shape[1], 0)
    padded = cv2.copyMakeBorder(upsampled, offset, bottom, offset, right, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(padded[: shape[0], : shape[1]])


def noise_level_anomaly(rgb: np.ndarray, block: int) -> Evidence:
    """How far each block's noise level is from that of blocks with similar texture.

    z = |conditional robust z of log(sigma + 0.5)| given the block's mean log local contrast
    (see `evidence.conditional_z`); both noisier and cleaner regions count; clipped blocks get
    0 and are left out of the reference. Display = z / 4, clipped to [0, 1].
    """
    block = fitting_block(block, rgb.shape[:2])
    luma = grey(rgb)
    log_sigma = np.log(local_noise_sigma(luma, block) + SIGMA_FLOOR)
    brightness = block_means(luma, block, log_sigma.shape)
    texture = block_means(log_local_contrast(rgb), block, log_sigma.shape)
    measurable = (brightness > SATURATED_LOW) & (brightness < SATURATED_HIGH)
    z_grid = np.zeros_like(log_sigma)
    if measurable.any():
        z_grid[measurable] = np.abs(
            conditional_z(log_sigma[measurable], texture[measurable], TEXTURE_BINS, MIN_LOG_SPREAD)
        )
    z = grid_to_image(z_grid, block, rgb.shape[:2])
    return Evidence(display=z_to_unit(z, DISPLAY_FULL_SCALE_Z), z=z)
