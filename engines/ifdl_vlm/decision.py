"""Stage 1's outputs turned into one class and one region that agree with the image score.

The score is 1 − P(real), calibrated when the weights carry a calibration; the class follows it
(real below 0.5, else the likelier of fully synthetic and tampered), so the class never says
manipulated while the score says authentic, or the reverse. A tampered class always has a region:
when no pixel of the mask map passes the threshold, the threshold is lowered to half the map's
peak inside the image, and the result says so.
"""

from __future__ import annotations

import numpy as np
import torch

from engines.errors import WorkbenchError
from engines.ifdl_vlm.config import CLASS_NAMES, TAMPERED_CLASS

REAL_CLASS = CLASS_NAMES.index("real")
SYNTHETIC_CLASS = CLASS_NAMES.index("fully synthetic")
LOWERED_FRACTION = 0.5
"""A tampered image with no pixel over the threshold is cut at this fraction of its map's peak."""


def manipulation_score(probabilities: torch.Tensor) -> torch.Tensor:
    """The raw image score of (…, 3) class probabilities: 1 − P(real)."""
    return 1.0 - probabilities[..., REAL_CLASS]


def decided_class(probabilities: torch.Tensor, score: float) -> str:
    """The class of (3,) class probabilities given the image score they produced."""
    if score < 0.5:
        return CLASS_NAMES[REAL_CLASS]
    return CLASS_NAMES[TAMPERED_CLASS if probabilities[TAMPERED_CLASS] >= probabilities[SYNTHETIC_CLASS] else SYNTHETIC_CLASS]


def flagged_region(heatmap: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """(mask, the threshold that made it) of a tampered image: `heatmap > threshold`, or, when that
    is empty, `heatmap > LOWERED_FRACTION × peak`."""
    mask = heatmap > threshold
    if mask.any():
        return mask, threshold
    lowered = LOWERED_FRACTION * float(heatmap.max())
    mask = heatmap > lowered
    if not mask.any():
        raise WorkbenchError("IFDL-VLM classified the image tampered, but its mask decoder gave no pixel any "
                             "weight, so no region can be shown: the result would contradict itself.")
    return mask, lowered
