"""Verifying a candidate copy densely: does the region really equal its source, pixel by pixel?

Keypoints and blocks only propose a transform T (source -> copy). Two similar but genuine objects
(two cans of one brand on a shelf) also match by keypoints and fit an affine transform, but they
are two photographs of two things: their fine detail, lighting and noise differ. A copy is the
same pixels, only resampled. So the image is warped by T and compared with itself by zero-mean
normalised cross-correlation (ZNCC) in small windows. The copy is the connected area of high
correlation around the matched points; its source is that area mapped back through T.

Two numbers then say how much to trust the pair. Fidelity: the median ZNCC over the copy on the
unblurred image (a copy is near 1, a look-alike lower). Distinctiveness: fidelity minus the best
fidelity of two kinds of near-misses that a real copy does not have:
- T moved by `SHIFT` pixels: smooth gradients and one-directional structures (a horizon, a petal
  edge) correlate with themselves under any small shift along them, whereas a copy's texture
  decorrelates within a pixel or two;
- T applied once more (the copy's own copy, the source's own source): a periodic pattern (a grid
  of windows, tiles, a row of identical products) matches its next repetition as well as this
  one, whereas the content beyond a copy is unrelated to it.
A region that T maps largely onto itself (a symmetric object under its own mirror axis) is not a
copy-move at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from engines.classic.clone_transforms import CloneTransform

MIN_VARIANCE = 4.0
"""Grey levels²: windows flatter than this on either side carry no correlation evidence."""
SHIFT = 2.0
"""Pixels: the misregistration at which a genuine copy's correlation has clearly dropped."""
MAX_SELF_OVERLAP = 0.2
"""A copy that shares more than this fraction of its area with its own source is self-similarity
(a symmetric or periodic object): a pasted copy that covered its source would have erased it."""


@dataclass(frozen=True)
class VerifiedPair:
    transform: CloneTransform
    source: np.ndarray
    """bool H×W: the source region."""
    copy: np.ndarray
    """bool H×W: the copy."""
    fidelity: float
    """Median ZNCC of the copy with its warped source over the copy's textured pixels."""
    distinctiveness: float
    """Fidelity minus the best fidelity of the near-misses: T shifted by `SHIFT` pixels, T again."""


def zncc(first: np.ndarray, second: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Windowed ZNCC of two aligned float32 images, and where it is measurable: both windows
    textured and wholly inside `second`'s defined (non-NaN) pixels."""
    inside = np.isfinite(second)
    second = np.where(inside, second, 0.0).astype(np.float32)
    size = (window, window)
    mean_a, mean_b = cv2.blur(first, size), cv2.blur(second, size)
    var_a = cv2.blur(first * first, size) - mean_a * mean_a
    var_b = cv2.blur(second * second, size) - mean_b * mean_b
    covariance = cv2.blur(first * second, size) - mean_a * mean_b
    inside = cv2.erode(inside.astype(np.uint8), np.ones(size, np.uint8)).astype(bool)
    measurable = (var_a > MIN_VARIANCE) & (var_b > MIN_VARIANCE) & inside
    correlation = covariance / np.sqrt(np.maximum(var_a * var_b, 1e-6))
    return np.where(measurable, correlation, 0.0).astype(np.float32), measurable


def box_around(region: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the region's bounding box grown by `margin`, clipped to the image."""
    x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
    height, width = region.shape
    return max(0, x - margin), max(0, y - margin), min(width, x + w + margin), min(height, y + h + margin)


def correlation_map(
    grey: np.ndarray, matrix: np.ndarray, window: int, box: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """ZNCC between the image and the image warped by `matrix` (so each copy-side pixel meets
    its source), over `box` (default: the whole image)."""
    x0, y0, x1, y1 = box or (0, 0, grey.shape[1], grey.shape[0])
    shifted = matrix.astype(np.float64).copy()
    shifted[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(grey, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    return zncc(np.ascontiguousarray(grey[y0:y1, x0:x1]), warped, window)


def displacement(matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """How far each copy-side pixel lies from the source pixel T maps onto it, H×W."""
    height, width = shape
    yy, xx = np.ogrid[0:height, 0:width]
    inverse = cv2.invertAffineTransform(matrix)
    source_x = inverse[0, 0] * xx + inverse[0, 1] * yy + inverse[0, 2]
    source_y = inverse[1, 0] * xx + inverse[1, 1] * yy + inverse[1, 2]
    return np.hypot(xx - source_x, yy - source_y)


def filled(region: np.ndarray, window: int) -> np.ndarray:
    """The region closed by a window-sized disc and with its holes filled (flat parts of a copy
    carry no correlation evidence but belong to it)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (window, window))
    x0, y0, x1, y1 = box_around(region, window)
    closed = cv2.morphologyEx(region[y0:y1, x0:x1].astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    out = np.zeros_like(region)
    out[y0:y1, x0:x1] = ndimage.binary_fill_holes(closed)
    return out


def with_edge(region: np.ndarray, window: int) -> np.ndarray:
    """The region grown by half a window: a correlation window that straddles the copy's edge
    also sees what lies beyond it, so the edge itself is never confirmed."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (window, window))
    return cv2.dilate(region.astype(np.uint8), kernel).astype(bool)


def fidelity(grey: np.ndarray, matrix: np.ndarray, copy: np.ndarray, window: int) -> float:
    """Median ZNCC over the copy's measurable pixels (0 when none is measurable)."""
    box = box_around(copy, window)
    correlation, measurable = correlation_map(grey, matrix, window, box)
    x0, y0, x1, y1 = box
    measured = measurable & copy[y0:y1, x0:x1]
    return float(np.median(correlation[measured])) if measured.any() else 0.0


def warp_region(region: np.ndarray, matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    """The region mapped through `matrix` (or its inverse), bool H×W."""
    flags = cv2.INTER_NEAREST | (cv2.WARP_INVERSE_MAP if inverse else 0)
    return cv2.warpAffine(region.astype(np.uint8), matrix, region.shape[::-1], flags=flags).astype(bool)


def distinctiveness(grey: np.ndarray, matrix: np.ndarray, copy: np.ndarray, source: np.ndarray, window: int,
                    exact: float, min_offset: float) -> float:
    """`exact` (the fidelity at `matrix`) minus the best fidelity of the near-misses: the copy
    side moved by `SHIFT` pixels along either axis, and the same move from the copy to its own
    copy and from the source's own source to the source (skipped when T is its own inverse, as a
    mirroring across a line is, so that doing it twice leads back to the start)."""
    near_misses = []
    for dx, dy in ((SHIFT, 0.0), (-SHIFT, 0.0), (0.0, SHIFT), (0.0, -SHIFT)):
        moved = matrix.astype(np.float64).copy()
        moved[:, 2] += (dx, dy)
        near_misses.append(fidelity(grey, moved, copy, window))
    centre = np.argwhere(copy).mean(axis=0)[::-1]
    twice = matrix[:, :2] @ (matrix[:, :2] @ centre + matrix[:, 2]) + matrix[:, 2]
    if np.hypot(*(twice - centre)) >= min_offset:
        near_misses.append(fidelity(grey, matrix, warp_region(copy, matrix), window))
        near_misses.append(fidelity(grey, matrix, source, window))
    return exact - max(near_misses)


def verify(
    smooth: np.ndarray,
    grey: np.ndarray,
    transform: CloneTransform,
    window: int,
    grow_correlation: float,
    min_area: float,
    min_offset: float,
) -> VerifiedPair | None:
    """The copy and source regions of `transform` with their fidelity and distinctiveness, or
    None when no connected area of the lightly blurred image (`smooth`) correlates above
    `grow_correlation` around the matched points with at least `min_area` pixels, or when that
    area lies mostly on its own source."""
    matrix = transform.matrix
    correlation, _ = correlation_map(smooth, matrix, window)
    matched = (correlation > grow_correlation) & (displacement(matrix, smooth.shape) >= min_offset)
    matched = cv2.morphologyEx(matched.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(matched)
    if count <= 1:
        return None
    height, width = smooth.shape
    points = np.round(transform.copy_points).astype(int)
    hit = np.unique(labels[np.clip(points[:, 1], 0, height - 1), np.clip(points[:, 0], 0, width - 1)])
    hit = hit[hit > 0]
    if hit.size == 0:
        return None
    core = filled(np.isin(labels, hit), window)
    source_core = warp_region(core, matrix, inverse=True)
    if core.sum() < min_area or (core & source_core).sum() > MAX_SELF_OVERLAP * core.sum():
        return None
    exact = fidelity(grey, matrix, core, window)
    copy = with_edge(core, window)
    return VerifiedPair(transform, warp_region(copy, matrix, inverse=True), copy, exact,
                        distinctiveness(grey, matrix, core, source_core, window, exact, min_offset))
