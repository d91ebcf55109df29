"""Pure functions that turn an analysis into what the widgets show (no Gradio here)."""

from __future__ import annotations

import numpy as np

from engines.render import colorize, mask_image, mask_outline, overlay
from engines.result import Analysis


def overlay_view(rgb: np.ndarray, analysis: Analysis, opacity: float, cmap: str) -> np.ndarray:
    return overlay(rgb, analysis.heatmap, opacity=opacity, cmap=cmap)


def mask_view(rgb: np.ndarray, analysis: Analysis, threshold: float) -> np.ndarray:
    """The binary decision at the analyst's threshold, outlined over the image."""
    return mask_outline(rgb, analysis.mask_at(threshold))


def binary_mask_view(analysis: Analysis, threshold: float) -> np.ndarray:
    return mask_image(analysis.mask_at(threshold))


def evidence_gallery(analysis: Analysis, cmap: str) -> list[tuple[np.ndarray, str]]:
    """Each extra map colour-mapped, captioned with its name."""
    return [(colorize(values, cmap), name.replace("_", " ")) for name, values in analysis.maps.items()]


def score_text(analysis: Analysis, threshold: float) -> str:
    fraction = float((analysis.mask_at(threshold)).mean())
    verdict = "likely manipulated" if analysis.score >= 0.5 else "no strong evidence of manipulation"
    return (
        f"### Manipulation score: {analysis.score:.3f} — {verdict}\n"
        f"Flagged area at threshold {threshold:.2f}: **{fraction:.1%}** of the image."
    )


def provenance_record(analysis: Analysis) -> dict:
    return analysis.provenance.to_dict()
