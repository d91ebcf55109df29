"""Copy-move (clone) detection: a region of the image copied elsewhere in the same image.

The image is matched against itself twice: SIFT keypoints (`clone_keypoints`), which survive
rotation, scaling and mirroring, and dense low-frequency DCT blocks (`clone_blocks`), which find
moved copies where keypoints are few. Each proposes transforms (source -> copy); every transform
is checked densely (`clone_regions`): the copy must equal its warped source pixel for pixel over a
connected area. Both ends of a verified pair are evidence — a copy-move detector cannot tell the
original from the copy — so the map marks both and the pair list says which goes with which.
What an analyst should ignore: repeated patterns (tiles, windows, fences, printed packaging) and
symmetric objects are genuine self-similarity; a pair there is only a lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from engines.classic.clone_blocks import block_transforms
from engines.classic.clone_keypoints import keypoint_matches
from engines.classic.clone_regions import VerifiedPair, verify
from engines.classic.clone_transforms import CloneTransform, find_transforms
from engines.classic.fusion import logistic

MIN_MATCH_OFFSET = 10.0
"""Work pixels: matches and copies closer to their source than this are the same spot."""
RANSAC_TOLERANCE = 3.0
"""Work pixels: how far a keypoint may land from where the transform maps its partner."""
MIN_KEYPOINT_INLIERS = 5
MAX_KEYPOINT_TRANSFORMS = 8
MAX_BLOCK_TRANSFORMS = 4
REGION_SMOOTH_SIGMA = 1.0
"""Grey is blurred this much before the region is grown, so JPEG blocking does not fragment it."""
OVERLAP_LIMIT = 0.5
"""A pair whose copy lies this much inside an accepted pair's regions repeats it."""


@dataclass(frozen=True)
class CloneSettings:
    """The copy-move tool's knobs (part of `ClassicConfig`). min_correlation and
    min_distinctiveness were chosen on synthetic forge copy-moves (see docs/benchmarks.md)."""

    max_megapixels: float = 0.5
    """Larger images are matched on a copy downscaled to this size (keeps 1 MP within 2 s)."""
    max_keypoints: int = 2500
    ratio: float = 0.6
    """g2NN ratio: a neighbour matches while its distance is below this times the next one's."""
    block: int = 12
    block_stride: int = 3
    block_min_deviation: float = 3.0
    """Grey levels: flatter blocks match everything and do not vote."""
    block_max_distance: float = 12.0
    """Largest DCT-feature distance of two blocks that vote together."""
    block_min_votes: int = 20
    window: int = 7
    """Pixels: side of the correlation windows."""
    grow_correlation: float = 0.85
    """ZNCC (on the lightly blurred image) a pixel needs to join the copy region."""
    min_correlation: float = 0.9
    """Fidelity a pair needs to count (a look-alike below it is rejected)."""
    min_distinctiveness: float = 0.1
    min_area: float = 0.001
    """Smallest copy, as a fraction of the image."""
    score_scale: float = 0.01
    """Pair score = logistic((fidelity - min_correlation) / score_scale)."""


@dataclass
class CloneEvidence:
    regions: np.ndarray
    """float32 H×W in [0, 1]: the verified pairs' confidence over both source and copy."""
    pairs_map: np.ndarray
    """float32 H×W: pair k of n shown as (k + 1) / n over both its ends, 0 elsewhere."""
    score: float
    pairs: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    """Candidate pairs that matched geometrically but failed the dense check (look-alikes)."""


def work_copy(rgb: np.ndarray, max_megapixels: float) -> tuple[np.ndarray, float]:
    """Grey uint8 at most `max_megapixels`, and the factor from work to image pixels."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    factor = min(1.0, float(np.sqrt(max_megapixels * 1e6 / grey.size)))
    if factor < 1.0:
        size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey, 1.0 / factor


def candidate_transforms(grey: np.ndarray, settings: CloneSettings) -> list[CloneTransform]:
    """Keypoint transforms first (they carry rotation and scale), then block translations."""
    first, second = keypoint_matches(grey, settings.max_keypoints, settings.ratio, MIN_MATCH_OFFSET)
    transforms = find_transforms(first, second, MIN_KEYPOINT_INLIERS, RANSAC_TOLERANCE, MAX_KEYPOINT_TRANSFORMS)
    transforms += block_transforms(
        grey.astype(np.float32), settings.block, settings.block_stride, settings.block_min_deviation,
        settings.block_max_distance, MIN_MATCH_OFFSET, settings.block_min_votes, MAX_BLOCK_TRANSFORMS,
    )
    return transforms


def verified_pairs(grey: np.ndarray, settings: CloneSettings) -> list[VerifiedPair]:
    """Every candidate whose copy region could be grown, without repeats."""
    unblurred = grey.astype(np.float32)
    smooth = cv2.GaussianBlur(unblurred, (0, 0), REGION_SMOOTH_SIGMA)
    min_area = settings.min_area * grey.size
    covered = np.zeros(grey.shape, bool)
    found = []
    for transform in candidate_transforms(grey, settings):
        pair = verify(smooth, unblurred, transform, settings.window, settings.grow_correlation, min_area,
                      MIN_MATCH_OFFSET)
        if pair is None or (pair.copy & covered).sum() > OVERLAP_LIMIT * pair.copy.sum():
            continue
        found.append(pair)
        covered |= pair.copy | pair.source
    return found


def pair_record(pair: VerifiedPair, score: float, factor: float, image_pixels: int) -> dict[str, Any]:
    """JSON-ready description of one verified pair in image pixels (for the pairs view and
    reports). Its ends are called a and b: the transform maps a onto b, but which of the two is
    the original is not known."""
    linear = pair.transform.matrix[:, :2]
    scales = np.linalg.svd(linear, compute_uv=False)
    ends = {}
    for name, region in (("a", pair.source), ("b", pair.copy)):
        x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
        moments = cv2.moments(region.astype(np.uint8), binaryImage=True)
        centre = (moments["m10"] / max(moments["m00"], 1.0), moments["m01"] / max(moments["m00"], 1.0))
        ends[f"{name}_box_xyxy"] = [round(v * factor) for v in (x, y, x + w, y + h)]
        ends[f"{name}_centre_xy"] = [round(v * factor, 1) for v in centre]
    return {
        **ends,
        "area_fraction": round(float(pair.copy.sum()) * factor * factor / image_pixels, 5),
        "fidelity": round(pair.fidelity, 4),
        "distinctiveness": round(pair.distinctiveness, 4),
        "score": round(score, 4),
        "matches": int(len(pair.transform.source_points)),
        "scale": round(float(np.sqrt(scales[0] * scales[1])), 3),
        "rotation_deg": round(float(np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))), 1),
        "mirrored": bool(np.linalg.det(linear) < 0),
    }


def copy_move(rgb: np.ndarray, settings: CloneSettings) -> CloneEvidence:
    """Verified copy-move pairs of `rgb`, their maps at the image's size and the image score.

    A pair counts when its fidelity (median ZNCC of copy and warped source) exceeds
    `min_correlation`; its score is logistic((fidelity - min_correlation) / score_scale), so a
    counted pair scores above 0.5 and a perfect copy near 1. The image score is the best pair's.
    """
    height, width = rgb.shape[:2]
    grey, factor = work_copy(rgb, settings.max_megapixels)
    regions = np.zeros(grey.shape, np.float32)
    labels = np.zeros(grey.shape, np.int32)
    pairs, rejected = [], 0
    for pair in verified_pairs(grey, settings):
        if pair.fidelity <= settings.min_correlation or pair.distinctiveness <= settings.min_distinctiveness:
            rejected += 1
            continue
        score = float(logistic(pair.fidelity, settings.min_correlation, settings.score_scale))
        both = pair.source | pair.copy
        regions[both] = np.maximum(regions[both], score)
        labels[both] = len(pairs) + 1
        pairs.append(pair_record(pair, score, factor, height * width))
    pairs_map = labels.astype(np.float32) / max(len(pairs), 1)
    size = (width, height)
    return CloneEvidence(
        regions=cv2.resize(regions, size, interpolation=cv2.INTER_NEAREST),
        pairs_map=cv2.resize(pairs_map, size, interpolation=cv2.INTER_NEAREST),
        score=max((pair["score"] for pair in pairs), default=0.0),
        pairs=pairs,
        rejected=rejected,
    )
