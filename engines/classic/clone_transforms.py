"""From matched point pairs to the affine transforms that map a source region onto its copy.

A matched pair does not say which end is the source, so every pair enters in both directions
and RANSAC (`cv2.estimateAffine2D`) finds the transform most pairs agree with; its inliers (in
either direction) leave the pool and the search repeats, one transform per copied region. A full
affine transform covers translation, rotation, scaling and mirroring.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RANSAC_ITERATIONS = 2000
RANSAC_CONFIDENCE = 0.995
SCALE_RANGE = (0.5, 2.0)
"""Singular values of the linear part outside this range are not a plausible copy."""


@dataclass(frozen=True)
class CloneTransform:
    matrix: np.ndarray
    """2×3 float64 affine: source (x, y, 1) -> copy (x, y)."""
    source_points: np.ndarray
    """(N, 2) inlier points in the source region."""
    copy_points: np.ndarray
    """(N, 2) their matches in the copy."""


def plausible(matrix: np.ndarray) -> bool:
    """Scale within `SCALE_RANGE` along both axes."""
    singular = np.linalg.svd(matrix[:, :2], compute_uv=False)
    low, high = SCALE_RANGE
    return bool(singular.min() >= low and singular.max() <= high)


def find_transforms(
    first: np.ndarray,
    second: np.ndarray,
    min_inliers: int,
    tolerance: float,
    max_transforms: int,
) -> list[CloneTransform]:
    """Sequential RANSAC over the unordered pairs (first[i], second[i])."""
    first, second = first.astype(np.float32), second.astype(np.float32)
    remaining = np.ones(len(first), bool)
    transforms: list[CloneTransform] = []
    while len(transforms) < max_transforms and remaining.sum() >= min_inliers:
        index = np.flatnonzero(remaining)
        source = np.concatenate([first[index], second[index]])
        copy = np.concatenate([second[index], first[index]])
        matrix, inliers = cv2.estimateAffine2D(
            source, copy, method=cv2.RANSAC, ransacReprojThreshold=tolerance,
            maxIters=RANSAC_ITERATIONS, confidence=RANSAC_CONFIDENCE, refineIters=10,
        )
        if matrix is None:
            break
        inliers = inliers.ravel().astype(bool)
        forward, backward = inliers[: len(index)], inliers[len(index):]
        if inliers.sum() < min_inliers:
            break
        remaining[index[forward | backward]] = False
        if plausible(matrix):
            transforms.append(CloneTransform(matrix, source[inliers], copy[inliers]))
    return transforms
