"""Turning maps into pictures: colour-mapped heatmaps, overlays, mask outlines and colour bars.

Shared by the GUI and by the report files the command line writes, so both show the same thing.
"""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np
from matplotlib import colormaps

COLORMAPS = ("inferno", "jet", "viridis", "magma", "gray")
ASCII_SUBSTITUTES = str.maketrans({"–": "-", "—": "-", "×": "x", "σ": "sigma", "≥": ">=", "≤": "<="})
OUTLINE_HALO = (0, 0, 0)
"""The dark outer stroke of a mask outline: with a bright inner stroke, visible on any image."""


def colorize(values: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """float map in [0, 1] -> RGB uint8 through a matplotlib colormap."""
    lut = (colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    index = np.clip(np.asarray(values, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return lut[index]


def overlay(
    rgb: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = 0.6,
    cmap: str = "inferno",
) -> np.ndarray:
    """Blend the colour-mapped heatmap over the image with a per-pixel opacity of `opacity` × the
    heatmap value: transparent where nothing is found, `opacity` where the value is 1."""
    values = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    colored = colorize(values, cmap).astype(np.float32)
    alpha = (float(opacity) * values)[:, :, None]
    return (rgb.astype(np.float32) * (1.0 - alpha) + colored * alpha + 0.5).astype(np.uint8)


def default_outline_width(shape: tuple[int, ...]) -> int:
    """Inner stroke width: 2 px per 1000 px of the long side, at least 1."""
    return max(1, round(2 * max(shape[:2]) / 1000))


def mask_outline(rgb: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = (0, 255, 0),
                 width: int | None = None) -> np.ndarray:
    """Draw the mask's contour over the image as a double stroke: a dark halo one pixel wider on
    each side, then `color` (`width` px, default `default_outline_width`)."""
    out = np.ascontiguousarray(rgb.copy())
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    width = max(1, int(width or default_outline_width(mask.shape)))
    cv2.drawContours(out, contours, -1, OUTLINE_HALO, width + 2)
    cv2.drawContours(out, contours, -1, color, width)
    return out


PAIR_COLOURS = [tuple(int(255 * c) for c in colour[:3]) for colour in colormaps["tab10"].colors]
"""One distinct colour per copy-move pair (cycled after ten)."""


def copy_move_pairs_view(rgb: np.ndarray, pairs_map: np.ndarray, pairs: list[dict]) -> np.ndarray:
    """The image with each copy-move pair in its own colour: both ends outlined, joined by a line
    between their centres and numbered. `pairs_map` holds pair k of n as (k + 1) / n (see
    `engines.classic.copy_move`); `pairs` their records (`a_centre_xy`, `b_centre_xy`)."""
    out = np.ascontiguousarray(rgb.copy())
    width = default_outline_width(rgb.shape) + 1
    font_scale = float(np.clip(max(rgb.shape[:2]) / 900, 0.4, 1.2))
    count = len(pairs)
    for index, pair in enumerate(pairs):
        colour = PAIR_COLOURS[index % len(PAIR_COLOURS)]
        out = mask_outline(out, np.isclose(pairs_map, (index + 1) / count), colour, width)
        ends = [tuple(int(round(v)) for v in pair[key]) for key in ("a_centre_xy", "b_centre_xy")]
        cv2.line(out, *ends, OUTLINE_HALO, width + 2, cv2.LINE_AA)
        cv2.line(out, *ends, colour, width, cv2.LINE_AA)
        for end in ends:
            cv2.circle(out, end, 2 * width + 1, colour, -1, cv2.LINE_AA)
        middle = ((ends[0][0] + ends[1][0]) // 2, (ends[0][1] + ends[1][1]) // 2)
        cv2.putText(out, str(index + 1), middle, cv2.FONT_HERSHEY_SIMPLEX, font_scale, OUTLINE_HALO, width + 3,
                    cv2.LINE_AA)
        cv2.putText(out, str(index + 1), middle, cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, width, cv2.LINE_AA)
    return out


def mask_image(mask: np.ndarray) -> np.ndarray:
    """bool mask -> 0/255 uint8 (the benchmark mask convention)."""
    return np.where(mask, 255, 0).astype(np.uint8)


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float map to (height, width)."""
    if values.shape == (height, width):
        return values.astype(np.float32, copy=False)
    return cv2.resize(values.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def tick_label(value: float) -> str:
    """A scale value as short as it can be written without misleading (0, 0.5, 0.031, 2.4e-05)."""
    if value == 0:
        return "0"
    if abs(value) >= 0.01:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def with_colour_bar(picture: np.ndarray, cmap: str, low: float = 0.0, high: float = 1.0,
                    title: str = "") -> np.ndarray:
    """`picture` (H×W×3 uint8) with a colour bar appended below it: the colormap from `low` (left)
    to `high` (right), ticks at both ends and the middle, and `title` (wrapped to the width) under
    the ticks."""
    height, width = picture.shape[:2]
    font_scale = float(np.clip(width / 900, 0.35, 0.9))
    thickness = 1 if font_scale < 0.6 else 2
    (_, text_height), baseline = cv2.getTextSize("0.5", cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    bar_height = max(8, round(text_height * 1.2))
    margin = max(4, round(text_height * 0.6))
    line = text_height + baseline + margin
    inset = max(2, width // 40)
    title_lines = _wrapped(title, width - 2 * inset, font_scale, thickness)
    strip = np.full((margin + bar_height + line * (1 + len(title_lines)), width, 3), 255, np.uint8)
    ramp = np.tile(np.linspace(0.0, 1.0, max(1, width - 2 * inset), dtype=np.float32), (bar_height, 1))
    strip[margin:margin + bar_height, inset:inset + ramp.shape[1]] = colorize(ramp, cmap)
    ticks_y = margin + bar_height + text_height + margin // 2
    for fraction in (0.0, 0.5, 1.0):
        text = tick_label(low + fraction * (high - low))
        (text_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        x = int(np.clip(inset + fraction * (ramp.shape[1] - text_width), 0, max(0, width - text_width)))
        cv2.putText(strip, text, (x, ticks_y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness,
                    cv2.LINE_AA)
    for index, text in enumerate(title_lines, start=1):
        cv2.putText(strip, text, (inset, ticks_y + index * line), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
    return np.concatenate([picture, strip], axis=0)


def _wrapped(text: str, width: int, font_scale: float, thickness: int) -> list[str]:
    """`text` in ASCII (all OpenCV's fonts can draw) split into lines no wider than `width` pixels
    (a single long word keeps its line)."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(ASCII_SUBSTITUTES)).encode("ascii", "ignore").decode()
    lines: list[str] = []
    for word in ascii_text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        fits = cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)[0][0] <= width
        if lines and fits:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines
