"""The checks every forged sample passes before post-processing.

- Containment: every pixel that differs from the original (any channel, any amount) lies inside
  the mask. Tolerance: none (0 pixels). Edits composite through `blend.composite`, which leaves
  pixels outside the footprint bit-identical, so a failure means a bug, not noise.
- Area: the mask covers `area_range` of the image.
- Visibility: at least `min_changed_fraction` of the mask's pixels change by `CHANGE_LEVEL` or more
  (in some channel), so a mask never marks an edit that did nothing (e.g. sky moved onto sky).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANGE_LEVEL = 3
"""Grey levels (0–255) a pixel must move to count as visibly changed."""


@dataclass(frozen=True)
class CheckResult:
    leaked_pixels: int
    area_fraction: float
    changed_fraction: float
    failure: str | None
    """None when the sample passes; else a short reason used as a counter key."""

    def to_dict(self) -> dict:
        return {
            "leaked_pixels": self.leaked_pixels,
            "area_fraction": round(self.area_fraction, 6),
            "changed_fraction": round(self.changed_fraction, 4),
            "change_level": CHANGE_LEVEL,
        }


def check_edit(
    original: np.ndarray,
    edited: np.ndarray,
    mask: np.ndarray,
    area_range: tuple[float, float],
    min_changed_fraction: float,
) -> CheckResult:
    difference = np.abs(edited.astype(np.int16) - original.astype(np.int16)).max(axis=2)
    leaked = int(np.count_nonzero((difference > 0) & ~mask))
    area = float(mask.mean())
    inside = int(mask.sum())
    changed = float(np.count_nonzero((difference >= CHANGE_LEVEL) & mask) / inside) if inside else 0.0
    failure = None
    if leaked:
        failure = "changed pixels outside the mask"
    elif area < area_range[0]:
        failure = "region too small"
    elif area > area_range[1]:
        failure = "region too large"
    elif changed < min_changed_fraction:
        failure = "edit barely visible"
    return CheckResult(leaked, area, changed, failure)
