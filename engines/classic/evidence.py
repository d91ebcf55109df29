"""What every classic tool returns, and the robust per-image statistics they share.

Every tool measures something in its own units (grey levels, noise sigma, normalised
difference). To make them comparable each is turned into a robust z-score against the image's
own typical value: (x - median) / (1.4826 * MAD), the MAD scaled to equal the standard deviation
for Gaussian data, optionally only against parts of similar content (`conditional_z`). The image
is its own reference, so the maps show what is *unusual within this image*, not what is large in
absolute terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Evidence:
    """One tool's output at the original image size."""

    display: np.ndarray
    """float32 H×W in [0, 1], what the analyst sees."""
    z: np.ndarray
    """float32 H×W robust z-score (0 = typical for this image, larger = more suspicious)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Numbers worth showing beside the map (e.g. the JPEG quality a ghost points to)."""


def median_and_spread(values: np.ndarray, min_spread: float) -> tuple[float, float]:
    """Median and 1.4826·MAD of `values`, the spread at least `min_spread`."""
    median = float(np.median(values))
    return median, max(MAD_TO_SIGMA * float(np.median(np.abs(values - median))), min_spread)


def robust_z(values: np.ndarray, min_spread: float) -> np.ndarray:
    """(values - median) / spread, spread = 1.4826·MAD but at least `min_spread`.

    `min_spread` stops near-constant images (flat synthetic images, all-black frames) from
    turning rounding noise into huge z-scores; it is in the units of `values`.
    """
    values = np.asarray(values, dtype=np.float32)
    median, spread = median_and_spread(values, min_spread)
    return ((values - median) / spread).astype(np.float32)


def scale_to_unit(values: np.ndarray, percentile: float, min_scale: float) -> np.ndarray:
    """Divide by the image's `percentile` (not its max, set by one hot pixel); clip to [0, 1].

    The divisor is at least `min_scale`, so a nearly empty map stays dark instead of being
    stretched until its noise fills the range.
    """
    values = np.asarray(values, dtype=np.float32)
    scale = max(float(np.percentile(values, percentile)), min_scale)
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def z_to_unit(z: np.ndarray, full_scale: float) -> np.ndarray:
    """Map z-scores to [0, 1] for display: 0 at or below the median, 1 at `full_scale` and above."""
    return np.clip(np.asarray(z, dtype=np.float32) / full_scale, 0.0, 1.0).astype(np.float32)


def conditional_z(
    values: np.ndarray, covariate: np.ndarray, bins: int, min_spread: float
) -> np.ndarray:
    """Robust z-score of `values` against pixels/blocks with a similar `covariate`.

    The covariate (e.g. local texture) is split into `bins` quantile bins; in each bin the median
    and 1.4826·MAD of `values` are taken at the bin's median covariate, and linearly interpolated
    in between. So an edge is compared with other edges and a flat area with flat areas, which
    removes most of the "every edge lights up" effect of ELA and noise maps.
    """
    values = np.asarray(values, dtype=np.float32)
    flat_values, flat_covariate = values.ravel(), np.asarray(covariate, dtype=np.float32).ravel()
    order = np.argsort(flat_covariate, kind="stable")
    groups = np.array_split(order, min(bins, max(1, order.size)))
    centres, medians, spreads = [], [], []
    for group in groups:
        if group.size == 0:
            continue
        median, spread = median_and_spread(flat_values[group], min_spread)
        centres.append(float(np.median(flat_covariate[group])))
        medians.append(median)
        spreads.append(spread)
    expected = np.interp(flat_covariate, centres, medians)
    spread = np.interp(flat_covariate, centres, spreads)
    return ((flat_values - expected) / spread).reshape(values.shape).astype(np.float32)
