"""Dense block matching: the evidence for copies where keypoints are few (smooth or small areas).

Every block×block window (on a grid of `stride` pixels) is described by its lowest-frequency 2D
DCT coefficients, which JPEG re-compression and mild noise barely change (Fridrich et al. 2003).
Each block's nearest neighbour in that feature space (a k-d tree), at least `min_offset` pixels
away, votes for the offset between the two; a copy moved without rotation or scaling makes many
blocks vote for one offset, while chance look-alikes scatter their votes. Offsets with enough
votes become translation candidates for the dense check in `clone_regions`.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from engines.classic.clone_transforms import CloneTransform

DCT_ORDER = 3
"""Coefficients (u, v) with u + v <= DCT_ORDER: the 10 lowest frequencies."""
NEIGHBOURS = 4
"""Nearest blocks examined for the first one far enough away."""


def dct_kernels(block: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The separable 1-D factors of the orthonormal DCT-II basis functions kept as features."""
    positions = (np.arange(block) + 0.5) * np.pi / block
    rows = [np.sqrt((1.0 if u == 0 else 2.0) / block) * np.cos(u * positions) for u in range(DCT_ORDER + 1)]
    return [
        (rows[u].astype(np.float32), rows[v].astype(np.float32))
        for u in range(DCT_ORDER + 1)
        for v in range(DCT_ORDER + 1 - u)
    ]


def block_features(grey: np.ndarray, block: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (N, 10), top-left corners (N, 2) as (x, y), local standard deviation (N,)) of the
    blocks on a `stride` grid."""
    height, width = grey.shape
    rows, cols = np.arange(0, height - block + 1, stride), np.arange(0, width - block + 1, stride)
    planes = []
    for kernel_y, kernel_x in dct_kernels(block):
        response = cv2.sepFilter2D(grey, cv2.CV_32F, kernel_x, kernel_y, anchor=(0, 0),
                                   borderType=cv2.BORDER_REPLICATE)
        planes.append(response[np.ix_(rows, cols)])
    size = (block, block)
    mean = cv2.blur(grey, size, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    square = cv2.blur(grey * grey, size, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    deviation = np.sqrt(np.maximum(square - mean * mean, 0.0))[np.ix_(rows, cols)]
    xx, yy = np.meshgrid(cols, rows)
    features = np.stack(planes, axis=-1).reshape(-1, len(planes))
    corners = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    return features, corners, deviation.ravel()


def offset_peaks(offsets: np.ndarray, min_votes: int, max_peaks: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to `max_peaks` integer offsets with at least `min_votes` votes counting their 8
    neighbours, best first, each with the indices of the votes within one pixel of it."""
    if len(offsets) == 0:
        return []
    keys, inverse, counts = np.unique(offsets, axis=0, return_inverse=True, return_counts=True)
    low = keys.min(axis=0)
    histogram = np.zeros(tuple(keys.max(axis=0) - low + 3), np.float32)
    histogram[keys[:, 0] - low[0] + 1, keys[:, 1] - low[1] + 1] = counts
    summed = cv2.boxFilter(histogram, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    dilated = cv2.dilate(summed, np.ones((3, 3), np.uint8))
    peaks = np.argwhere((summed >= min_votes) & (summed >= dilated))
    peaks = peaks[np.argsort(-summed[peaks[:, 0], peaks[:, 1]], kind="stable")][:max_peaks]
    found = []
    for peak in peaks:
        centre = peak - 1 + low
        members = np.flatnonzero(np.abs(offsets - centre).max(axis=1) <= 1)
        found.append((centre, members))
    return found


def block_transforms(
    grey: np.ndarray,
    block: int,
    stride: int,
    min_deviation: float,
    max_distance: float,
    min_offset: float,
    min_votes: int,
    max_transforms: int,
) -> list[CloneTransform]:
    """Translation candidates (source -> copy) supported by at least `min_votes` block pairs whose
    features lie within `max_distance` of each other."""
    features, corners, deviation = block_features(grey, block, stride)
    textured = deviation >= min_deviation
    features, corners = features[textured], corners[textured]
    if len(features) <= NEIGHBOURS:
        return []
    distances, neighbours = cKDTree(features).query(features, k=NEIGHBOURS + 1, distance_upper_bound=max_distance)
    found = np.isfinite(distances[:, 1:])
    candidates = corners[np.where(found, neighbours[:, 1:], 0)] - corners[:, None, :]
    far = found & (np.linalg.norm(candidates, axis=2) >= min_offset)
    has_far = far.any(axis=1)
    first_far = far.argmax(axis=1)
    rows = np.flatnonzero(has_far)
    offsets = candidates[rows, first_far[rows]]
    # One direction per unordered pair: the offset pointing right (or straight down).
    flip = (offsets[:, 0] < 0) | ((offsets[:, 0] == 0) & (offsets[:, 1] < 0))
    offsets[flip] *= -1
    sources = corners[rows] - np.where(flip[:, None], offsets, 0)
    centre = (block - 1) / 2.0
    transforms = []
    for shift, members in offset_peaks(offsets.astype(np.int64), min_votes, max_transforms):
        matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
        source_points = sources[members] + centre
        transforms.append(CloneTransform(matrix, source_points, source_points + shift))
    return transforms
