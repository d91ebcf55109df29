"""Measured numbers behind every sentence of an explanation: where the region is, how big, and
whether its noise level and JPEG error level differ from the rest of the image.

The cues reuse the classic tools (`engines.classic`): the local noise sigma (median absolute
diagonal Haar coefficient, per half-overlapping block) and the error level (|image − JPEG(image,
90)|, smoothed). Both are in grey levels, compared inside vs outside the region; for an image
without a region the whole-image value is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engines.classic.content import grey
from engines.classic.ela import error_levels
from engines.classic.noise import fitting_block, grid_to_image, local_noise_sigma
from engines.forge.meta import region_summary

ELA_QUALITIES = (90,)
ELA_SMOOTH_SIGMA = 2.0
NOISE_BLOCK = 16
VERTICAL = ("upper", "middle", "lower")
HORIZONTAL = ("left", "center", "right")


def location_words(centroid_xy: tuple[float, float], height: int, width: int) -> str:
    """The image third the centroid lies in, e.g. "upper left", "middle right", "center"."""
    column = HORIZONTAL[min(int(3 * centroid_xy[0] / width), 2)]
    row = VERTICAL[min(int(3 * centroid_xy[1] / height), 2)]
    if row == "middle" and column == "center":
        return "center"
    return f"{row} {column}"


def size_words(area_fraction: float) -> str:
    if area_fraction < 0.05:
        return "small"
    return "medium-sized" if area_fraction < 0.2 else "large"


def region_facts(mask: np.ndarray) -> dict[str, Any] | None:
    """The forge metadata's region summary (box x0, y0, x1, y1 with exclusive ends, area
    fraction, centroid) plus location and size words; None for an empty mask."""
    if not mask.any():
        return None
    facts = region_summary(mask)
    facts["area_fraction"] = round(facts["area_fraction"], 4)
    facts["location"] = location_words(facts["centroid_xy"], *mask.shape)
    facts["size"] = size_words(facts["area_fraction"])
    return facts


def _inside_outside(values: np.ndarray, mask: np.ndarray | None, name: str) -> dict[str, float]:
    if mask is None or not mask.any() or mask.all():
        return {f"{name}_image": round(float(values.mean()), 2)}
    return {f"{name}_inside": round(float(values[mask].mean()), 2),
            f"{name}_outside": round(float(values[~mask].mean()), 2)}


def cue_levels(rgb: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
    """Noise sigma and ELA error level (grey levels) inside vs outside `mask`."""
    block = fitting_block(NOISE_BLOCK, rgb.shape[:2])
    sigma = grid_to_image(local_noise_sigma(grey(rgb), block), block, rgb.shape[:2])
    ela = error_levels(rgb, ELA_QUALITIES, ELA_SMOOTH_SIGMA)
    return {**_inside_outside(sigma, mask, "noise_sigma"), **_inside_outside(ela, mask, "ela")}


def measure_evidence(rgb: np.ndarray, mask: np.ndarray | None, label: str) -> dict[str, Any]:
    """Everything the explanation may state: class, region facts and cues."""
    region = None if mask is None else region_facts(mask)
    evidence: dict[str, Any] = {"label": label, "region": region}
    evidence.update(cue_levels(rgb, mask if region is not None else None))
    return evidence
