"""What each engine's evidence maps are, in words, and on which scale they are shown.

A map whose values are probabilities (a sigmoid readout trained against the edit mask) is shown on
the shared 0–1 scale, so two such maps can be compared. Any other map (a min-max normalised shift,
a clipped z-score display, a residual) only compares places within itself: it is shown stretched
between its own minimum and maximum, and that range is printed beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engines.reports.render import colorize, tick_label, with_colour_bar

SCALE_NAMES = {"0": "fine", "1": "medium", "2": "coarse"}
STREAM_NAMES = {"blur": "blur", "noise": "added noise", "jpeg": "JPEG re-compression"}
FIXED = {
    "ela": ("error level: change when re-saved as JPEG", False),
    "noise_residual": ("noise residual: fine texture, not evidence by itself", False),
    "noise_level_anomaly": ("local noise level unlike the rest of the image", False),
    "jpeg_ghost": ("JPEG ghost: region once saved at another quality", False),
    "copy_move_pairs": ("copy-move pairs: both ends of pair k of n in the shade k/n", False),
    "sam_branch": ("image-structure (SAM) branch alone: probability", True),
    "latent_branch": ("latent (diffusion) branch, all noise levels: probability", True),
}


@dataclass(frozen=True)
class MapLegend:
    caption: str
    probability: bool


def legend(name: str) -> MapLegend:
    """The caption in words and the scale kind of the evidence map called `name`."""
    if name in FIXED:
        return MapLegend(*FIXED[name])
    if match := re.fullmatch(r"shift_(\w+?)_s(\d+)", name):
        stream, scale = match.groups()
        return MapLegend(f"feature shift under {STREAM_NAMES.get(stream, stream)}, "
                         f"{SCALE_NAMES.get(scale, 'scale ' + scale)} scale", False)
    if match := re.fullmatch(r"latent_t([\d.]+)", name):
        return MapLegend(f"latent branch at noise level {match.group(1)}: probability", True)
    if match := re.fullmatch(r"edge_cue_s(\d+)", name):
        return MapLegend(f"edge cue, scale {match.group(1)} (1 = finest): probability", True)
    return MapLegend(name.replace("_", " "), False)


def display_range(values: np.ndarray, probability: bool) -> tuple[float, float]:
    """The (low, high) a map is stretched between: 0–1 for probabilities, else its own range."""
    if probability:
        return 0.0, 1.0
    return float(np.min(values)), float(np.max(values))


def stretched(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Values mapped to [0, 1] between low and high (a flat map is all 0)."""
    span = high - low
    if span <= 0:
        return np.zeros_like(values, dtype=np.float32)
    return np.clip((values.astype(np.float32) - low) / span, 0.0, 1.0)


def evidence_picture(name: str, values: np.ndarray, cmap: str = "inferno") -> tuple[np.ndarray, str]:
    """An evidence map colour-mapped on its stated scale, with its colour bar, and its caption in
    words (the scale included)."""
    described = legend(name)
    low, high = display_range(values, described.probability)
    scale = "shared 0–1 scale" if described.probability else (
        f"this map's own range {tick_label(low)}–{tick_label(high)}, compare places within it only")
    picture = with_colour_bar(colorize(stretched(values, low, high), cmap), cmap, low, high, described.caption)
    return picture, f"{described.caption} ({scale})"
