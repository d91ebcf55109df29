"""Pure functions that turn an analysis into what the widgets show (no Gradio here)."""

from __future__ import annotations

import html

import cv2
import numpy as np

from engines.render import colorize, mask_image, mask_outline, overlay
from engines.result import Analysis


def overlay_view(rgb: np.ndarray, analysis: Analysis, opacity: float, cmap: str) -> np.ndarray:
    return overlay(rgb, analysis.heatmap, opacity=opacity, cmap=cmap)


def mask_view(rgb: np.ndarray, analysis: Analysis, threshold: float) -> np.ndarray:
    """The binary decision at the analyst's threshold, outlined over the image."""
    return mask_outline(rgb, analysis.mask_at(threshold))


def truth_view(rgb: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """A ground-truth mask outlined in magenta, to tell it from the methods' green outlines."""
    return mask_outline(rgb, gt, color=(255, 0, 255))


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


def explanation_markdown(analysis: Analysis) -> str:
    """IFDL-VLM-style class and written explanation, a paragraph per line of the text (one per
    section); empty for engines that give none."""
    parts = []
    if analysis.label:
        parts.append(f"**Class:** {analysis.label}")
    if analysis.text:
        parts.append("\n\n".join(line.strip() for line in analysis.text.splitlines() if line.strip()))
    return "\n\n".join(parts)


def provenance_markdown(analysis: Analysis) -> str:
    """One readable line: which engine, profile, device, weights and how long it took."""
    record = analysis.provenance
    weights = ", ".join(f"`{name}` sha256 {digest[:12]}…" for name, digest in record.weights.items())
    return (
        f"**{record.engine}** · profile `{record.profile}` · device `{record.device}` · "
        f"{record.seconds:.2f} s · weights: {weights or 'none (training-free)'}"
    )


CHANGE_COLORMAP = "RdBu_r"
"""Diverging: blue where a perturbation erased evidence, red where it created some."""


def heatmap_view(heatmap: np.ndarray, cmap: str) -> np.ndarray:
    """The heatmap alone on the fixed 0–1 colour scale (the same for every method)."""
    return colorize(heatmap, cmap)


def change_view(change: np.ndarray) -> np.ndarray:
    """A change map in [−1, 1] on a diverging scale centred on white (no change)."""
    return colorize((change + 1.0) / 2.0, CHANGE_COLORMAP)


def colour_scale(cmap: str, width: int = 512, height: int = 20) -> np.ndarray:
    """A horizontal colour bar from 0 (left) to 1 (right)."""
    return colorize(np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1)), cmap)


def thumbnail(rgb: np.ndarray, max_side: int = 320) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def progress_html(fraction: float, label: str) -> str:
    """A labelled progress bar (the HTML <progress> element)."""
    percent = max(0.0, min(1.0, fraction)) * 100
    return (
        f"<div class='job-progress'><div>{html.escape(label)}</div>"
        f"<progress max='100' value='{percent:.1f}' style='width:100%'></progress></div>"
    )
