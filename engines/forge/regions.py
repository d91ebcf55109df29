"""Object-like region masks drawn from a photo's own content.

Forgers cut objects, not rectangles, so regions follow image structure: GrabCut from a random
box, a mean-shift colour segment grown from a random seed, or the most salient blob of a
spectral-residual saliency map (Hou & Zhang 2007). Each runs on a small copy of the photo
(`WORK_SIDE` px) for speed; the result is upsampled, smoothed, reduced to its largest component
with holes filled, and accepted only if its area lies in the requested range. When no
content-based region fits after a few tries, a random smooth blob (thresholded smoothed noise
around a random centre) of a drawn area is used, so a region is always returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 128
CONTENT_METHODS = ("grabcut", "segment", "saliency")
REGION_METHODS = (*CONTENT_METHODS, "blob")
CONTENT_TRIES = 6


@dataclass(frozen=True)
class Region:
    mask: np.ndarray
    """bool H×W, one filled component."""
    method: str
    params: dict


def area_fraction(mask: np.ndarray) -> float:
    return float(mask.mean())


def draw_region(
    rgb: np.ndarray,
    rng: np.random.Generator,
    area_range: tuple[float, float],
    methods: tuple[str, ...] = REGION_METHODS,
    inside: bool = False,
) -> Region:
    """An object-like region of `rgb` whose area fraction lies in `area_range`.

    `inside`: refuse content regions that touch the image border (an object cut out to be pasted
    elsewhere should be whole; a region cut off by the frame shows a straight edge).
    """
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (WORK_SIDE, WORK_SIDE), interpolation=cv2.INTER_AREA)
    content = [m for m in methods if m in CONTENT_METHODS]
    for _ in range(CONTENT_TRIES if content else 0):
        method = content[int(rng.integers(len(content)))]
        small_mask, params = _CONTENT_DRAWERS[method](small, rng)
        mask = clean_mask(small_mask, (height, width))
        if mask is None or not area_range[0] <= area_fraction(mask) <= area_range[1]:
            continue
        if inside and touches_border(mask):
            continue
        return Region(mask, method, params)
    return _blob_region(rng, (height, width), area_range)


def touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def clean_mask(small_mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """Upsample, smooth the outline, keep the largest component and fill its holes."""
    height, width = shape
    soft = cv2.resize(small_mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    sigma = max(height, width) / WORK_SIDE
    soft = cv2.GaussianBlur(soft, (0, 0), sigmaX=sigma)
    binary = (soft > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    filled = np.zeros((height, width), np.uint8)
    cv2.drawContours(filled, [largest], -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool) if filled.any() else None


def _grabcut(small: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """GrabCut seeded with a random box: outside is background, the box probably background, an
    ellipse filling half the box probably foreground and a small core certainly foreground (a
    bare box init on an arbitrary box mostly returns nothing)."""
    side = small.shape[0]
    box_w, box_h = (int(side * rng.uniform(0.25, 0.7)) for _ in range(2))
    x, y = int(rng.integers(1, side - box_w)), int(rng.integers(1, side - box_h))
    centre, axes = (x + box_w // 2, y + box_h // 2), (box_w // 4, box_h // 4)
    labels = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    labels[y : y + box_h, x : x + box_w] = cv2.GC_PR_BGD
    cv2.ellipse(labels, centre, axes, 0, 0, 360, cv2.GC_PR_FGD, thickness=-1)
    cv2.ellipse(labels, centre, (max(1, axes[0] // 3), max(1, axes[1] // 3)), 0, 0, 360, cv2.GC_FGD, thickness=-1)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    cv2.grabCut(bgr, labels, None, background, foreground, 3, cv2.GC_INIT_WITH_MASK)
    mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return mask, {"box_xywh_fraction": [round(v / side, 4) for v in (x, y, box_w, box_h)], "iterations": 3}


def _segment(small: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    side = small.shape[0]
    spatial, colour = 6, float(round(rng.uniform(15, 35), 2))
    tolerance = int(rng.integers(8, 25))
    filtered = cv2.pyrMeanShiftFiltering(small, spatial, colour)
    seed = (int(rng.integers(side // 8, side - side // 8)), int(rng.integers(side // 8, side - side // 8)))
    flood = np.zeros((side + 2, side + 2), np.uint8)
    flags = 4 | (1 << 8) | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE
    cv2.floodFill(filtered, flood, seed, (0, 0, 0), (tolerance,) * 3, (tolerance,) * 3, flags)
    mask = flood[1:-1, 1:-1].astype(bool)
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).astype(bool)
    params = {
        "spatial_radius": spatial,
        "colour_radius": colour,
        "flood_tolerance": tolerance,
        "seed_xy_fraction": [round(v / side, 4) for v in seed],
    }
    return mask, params


def spectral_residual_saliency(rgb: np.ndarray, side: int = 64) -> np.ndarray:
    """Saliency map in [0, 1] at `side`×`side` (Hou & Zhang, CVPR 2007)."""
    gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(gray.astype(np.float64))
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), sigmaX=2.5)
    return saliency / max(float(saliency.max()), 1e-12)


def _saliency(small: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    side = small.shape[0]
    saliency = cv2.resize(spectral_residual_saliency(small), (side, side), interpolation=cv2.INTER_LINEAR)
    factor = float(round(rng.uniform(1.5, 3.0), 3))
    binary = (saliency > factor * float(saliency.mean())).astype(np.uint8)
    count, labels = cv2.connectedComponents(binary)
    if count <= 1:
        return np.zeros_like(binary, bool), {"threshold_x_mean": factor}
    mass = np.bincount(labels.ravel(), weights=saliency.ravel(), minlength=count)[1:]
    chosen = int(rng.choice(count - 1, p=mass / mass.sum())) + 1
    return labels == chosen, {"threshold_x_mean": factor, "component": chosen}


_CONTENT_DRAWERS = {"grabcut": _grabcut, "segment": _segment, "saliency": _saliency}


def smooth_blob(rng: np.random.Generator, shape: tuple[int, int], area: float) -> tuple[np.ndarray, dict]:
    """A smooth irregular blob covering about `area` of the image (thresholded smoothed noise)."""
    height, width = shape
    side = WORK_SIDE
    centre = rng.uniform(0.25, 0.75, size=2) * side
    radius = np.sqrt(area / np.pi) * side
    angle = float(rng.uniform(0, np.pi))
    aspect = float(rng.uniform(0.5, 1.0))
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    dx, dy = xx - centre[0], yy - centre[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / (radius * aspect)
    envelope = np.exp(-(u**2 + v**2))
    noise = cv2.resize(rng.normal(size=(8, 8)).astype(np.float32), (side, side), interpolation=cv2.INTER_CUBIC)
    roughness = float(round(rng.uniform(0.2, 0.6), 3))
    field_ = envelope + roughness * noise * envelope
    threshold = np.quantile(field_, 1.0 - area)
    small_mask = field_ > threshold
    mask = clean_mask(small_mask, (height, width))
    if mask is None:  # cannot happen for area > 0; keeps the type exact
        mask = cv2.resize(small_mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    params = {
        "centre_xy_fraction": [round(float(c) / side, 4) for c in centre],
        "target_area": round(area, 4),
        "angle_rad": round(angle, 4),
        "aspect": round(aspect, 4),
        "roughness": roughness,
    }
    return mask, params


def _blob_region(rng: np.random.Generator, shape: tuple[int, int], area_range: tuple[float, float]) -> Region:
    low, high = area_range
    area = float(rng.uniform(low + 0.1 * (high - low), high - 0.1 * (high - low)))
    mask, params = smooth_blob(rng, shape, area)
    return Region(mask, "blob", params)
