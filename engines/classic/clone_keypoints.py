"""Keypoint matches of an image against itself: the evidence for rotated and scaled copies.

SIFT keypoints (scale and rotation invariant, robust to JPEG) are matched with every other
keypoint of the same image by the generalised 2-nearest-neighbour test (g2NN, Amerini et al.
2011): sorting a keypoint's descriptor distances d1 ≤ d2 ≤ …, the neighbours before the first
ratio d_i / d_(i+1) above `ratio` are matches, so one keypoint can match several copies. RootSIFT
descriptors (Arandjelović & Zisserman 2012) compare more reliably than raw SIFT under L2.
"""

from __future__ import annotations

import cv2
import numpy as np

NEIGHBOURS = 8
"""Nearest descriptors examined per keypoint, among the descriptors and their mirror images
(itself and perhaps its own mirror first)."""
CONTRAST_THRESHOLD = 0.02
"""SIFT's contrast threshold, half its default: more keypoints in low-contrast regions."""


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """L1-normalise, then square-root: L2 distance on these is the Hellinger kernel."""
    normalised = descriptors / np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-7)
    return np.sqrt(normalised).astype(np.float32)


def mirrored(descriptors: np.ndarray) -> np.ndarray:
    """SIFT descriptors of the horizontally mirrored patches: 4×4 cells × 8 orientation bins,
    the cell rows reversed and bin b moved to -b (checked against SIFT on a mirrored image)."""
    cells = descriptors.reshape(-1, 4, 4, 8)[:, ::-1][:, :, :, (-np.arange(8)) % 8]
    return np.ascontiguousarray(cells.reshape(len(descriptors), 128))


def keypoint_matches(
    grey: np.ndarray, max_keypoints: int, ratio: float, min_offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) float32 point pairs (x, y) whose descriptors match by g2NN, at least `min_offset`
    pixels apart; each unordered pair appears once."""
    sift = cv2.SIFT_create(nfeatures=max_keypoints, contrastThreshold=CONTRAST_THRESHOLD)
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    empty = np.zeros((0, 2), np.float32)
    if descriptors is None or len(keypoints) < 3:
        return empty, empty
    descriptors = root_sift(descriptors)
    count = len(keypoints)
    candidates = np.concatenate([descriptors, mirrored(descriptors)])
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(descriptors, candidates, k=min(NEIGHBOURS, 2 * count))
    points = np.array([keypoint.pt for keypoint in keypoints], np.float32)
    first, second = [], []
    for row in knn:
        others = [match for match in row if match.trainIdx % count != match.queryIdx]
        for current, following in zip(others, others[1:]):
            if current.distance > ratio * following.distance:
                break
            first.append(current.queryIdx)
            second.append(current.trainIdx % count)
    if not first:
        return empty, empty
    pairs = np.unique(np.sort(np.array([first, second]).T, axis=1), axis=0)
    a, b = points[pairs[:, 0]], points[pairs[:, 1]]
    apart = np.linalg.norm(a - b, axis=1) >= min_offset
    return a[apart], b[apart]
