"""Pure functions that turn an analysis into what the widgets show (no Gradio here)."""

from __future__ import annotations

import html

import cv2
import numpy as np

from engines.consistency import Reading
from engines.reports.map_legend import evidence_picture
from engines.reports.render import colorize, copy_move_pairs_view, mask_image, mask_outline, overlay, with_colour_bar
from engines.result import Analysis
from engines.verdict import NOT_RELIABLE, Verdict

PROBABILITY_SCALE = "manipulation probability per pixel"
CHANGE_COLORMAP = "RdBu_r"
"""Diverging: blue where a perturbation erased evidence, red where it created some."""
TRUTH_COLOUR = (255, 0, 255)
"""Ground truth is outlined in magenta, to tell it from the methods' green outlines."""


def overlay_view(rgb: np.ndarray, heatmap: np.ndarray, opacity: float, cmap: str) -> np.ndarray:
    """The heatmap over the image (opacity follows the value, `opacity` at 1), with its colour bar."""
    return with_colour_bar(overlay(rgb, heatmap, opacity=opacity, cmap=cmap), cmap, title=PROBABILITY_SCALE)


def heatmap_view(heatmap: np.ndarray, cmap: str) -> np.ndarray:
    """The heatmap alone on the fixed 0–1 colour scale (the same for every method), with its bar."""
    return with_colour_bar(colorize(heatmap, cmap), cmap, title=PROBABILITY_SCALE)


def mask_view(rgb: np.ndarray, analysis: Analysis, threshold: float, width: int | None = None) -> np.ndarray:
    """The binary decision at the analyst's threshold, outlined over the image."""
    return mask_outline(rgb, analysis.mask_at(threshold), width=width)


COPY_MOVE_PAIRS = "copy_move_pairs"
"""The evidence key and map name of the classic engine's copy-move tool."""


def copy_move_view(rgb: np.ndarray, analysis: Analysis) -> tuple[np.ndarray | None, str]:
    """The image with every copy-move pair drawn in its own colour, and a caption that counts
    them; (None, "") for an engine without a copy-move tool."""
    if COPY_MOVE_PAIRS not in analysis.evidence:
        return None, ""
    pairs = analysis.evidence[COPY_MOVE_PAIRS]
    rejected = analysis.evidence.get("copy_move_rejected_lookalikes", 0)
    caption = (f"Copy-move pairs: {len(pairs)} found, {rejected} look-alike(s) rejected — each pair in one colour, "
               "both ends outlined and joined; either end may be the original")
    return copy_move_pairs_view(rgb, analysis.maps[COPY_MOVE_PAIRS], pairs), caption


def truth_view(rgb: np.ndarray, gt: np.ndarray, width: int | None = None) -> np.ndarray:
    return mask_outline(rgb, gt, color=TRUTH_COLOUR, width=width)


def binary_mask_view(analysis: Analysis, threshold: float) -> np.ndarray:
    return mask_image(analysis.mask_at(threshold))


def evidence_gallery(analysis: Analysis, cmap: str) -> list[tuple[np.ndarray, str]]:
    """Each extra map on its stated scale with its colour bar, captioned in words."""
    return [evidence_picture(name, values, cmap) for name, values in analysis.maps.items()]


def change_view(change: np.ndarray) -> np.ndarray:
    """A change map in [−1, 1] on a diverging scale centred on white (no change), with its bar."""
    return with_colour_bar(colorize((change + 1.0) / 2.0, CHANGE_COLORMAP), CHANGE_COLORMAP, -1.0, 1.0,
                           "heatmap after minus before")


def verdict_markdown(verdict: Verdict, reading: Reading, analysis: Analysis, threshold: float) -> str:
    """The verdict first, then its reliability, the notes that reconcile the rest, the flagged area."""
    lines = [f"### {verdict.headline}", f"{verdict.score_words.capitalize()}."]
    if verdict.band == NOT_RELIABLE:
        lines.append("Why no verdict: " + "; ".join(verdict.reasons) + ".")
    lines.append(f"**Measured reliability.** {verdict.reliability}")
    lines += list(reading.notes)
    lines.append(f"Flagged area at threshold {threshold:.2f}: **{float(analysis.mask_at(threshold).mean()):.1%}** "
                 "of the image.")
    return "\n\n".join(lines)


def explanation_markdown(analysis: Analysis, reading: Reading) -> str:
    """The class and the written explanation, a paragraph per line of the text, when the reading
    lets it stand as the method's reading; otherwise the class and why the explanation is withheld
    (it is in the closed box below). Empty without class or text."""
    parts = []
    if analysis.label:
        parts.append(f"**Class (the method's classifier):** {analysis.label}")
    if analysis.text and reading.explanation_is_finding:
        parts.append(paragraphs(analysis.text))
    elif analysis.text:
        parts.append(f"*The written explanation is withheld as a finding: {reading.withheld_because}. "
                     "It is in the closed box below.*")
    return "\n\n".join(parts)


def withheld_explanation(analysis: Analysis, reading: Reading) -> str:
    """The explanation that is not shown as a finding, with the reason; empty when there is none."""
    if not analysis.text or reading.explanation_is_finding:
        return ""
    return f"*Withheld as a finding: {reading.withheld_because}.*\n\n{paragraphs(analysis.text)}"


def pixel_readout(analysis: Analysis, x: int, y: int, threshold: float) -> str:
    """One line of the values at pixel (x, y); a click outside the image (on a colour bar) says so."""
    height, width = analysis.size
    if not (0 <= x < width and 0 <= y < height):
        return "That point is outside the image (on the colour bar)."
    flagged = "inside" if analysis.heatmap[y, x] > threshold else "outside"
    maps = " · ".join(f"{name} {float(values[y, x]):.3f}" for name, values in analysis.maps.items())
    return (f"**At x {x}, y {y}:** heatmap {float(analysis.heatmap[y, x]):.3f} ({flagged} the mask at "
            f"{threshold:.2f})" + (f" · {maps}" if maps else ""))


def evidence_label(analysis: Analysis) -> str:
    if analysis.label:
        return ("Evidence: the measured numbers behind the explanation ('class_probabilities' are the "
                "classifier's raw outputs, not the calibrated image score above)")
    return "Evidence: the measured numbers behind the result"


def paragraphs(text: str) -> str:
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())


def provenance_record(analysis: Analysis) -> dict:
    return analysis.provenance.to_dict()


def provenance_markdown(analysis: Analysis) -> str:
    """One readable line: which engine, profile, device, weights and how long it took."""
    record = analysis.provenance
    weights = ", ".join(f"`{name}` sha256 {digest[:12]}…" for name, digest in record.weights.items())
    return (
        f"**{record.engine}** · profile `{record.profile}` · device `{record.device}` · "
        f"{record.seconds:.2f} s · weights: {weights or 'none (training-free)'}"
    )


def rounded(value: float | None, digits: int = 3) -> float | None:
    """Table cells: 3 decimals (None stays empty)."""
    return None if value is None else round(float(value), digits)


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
