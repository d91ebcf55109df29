"""Removal: an object-like region (grown a little to swallow its outline) erased and filled.

Fills: OpenCV's diffusion inpainting (Telea's fast marching, or Navier-Stokes; half of the time
with grain matching the surroundings added, as a retoucher would), or an exemplar
fill that copies the displaced patch of the same photo whose surroundings best match the hole's
(sum of squared differences over a ring around the hole), then blends it in.
"""

from __future__ import annotations

import cv2
import numpy as np

from engines.forge.blend import blend, composite
from engines.forge.edit import Edit, EditContext, EditFailed
from engines.forge.regions import draw_region

MAX_AREA = 0.2
"""Larger holes only give smears; real removals are mostly of small objects."""
FILL_METHODS = ("telea", "navier_stokes", "exemplar")
_INPAINT_FLAGS = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}
FILL_PROBABILITIES = {False: (0.25, 0.25, 0.5), True: (0.1, 0.1, 0.8)}
"""By hole size (small, large): diffusion fills smear large holes, so these mostly get exemplars."""
LARGE_HOLE = 0.05
RING = 8
EXEMPLAR_CANDIDATES = 64


def removal(target: np.ndarray, ctx: EditContext) -> Edit:
    rng = ctx.rng
    low, high = ctx.area_range
    region = draw_region(target, rng, (low, min(high, MAX_AREA)))
    grow = int(rng.integers(2, 8))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    hole = cv2.dilate(region.mask.astype(np.uint8), kernel).astype(bool)
    large = bool(hole.mean() > LARGE_HOLE)
    method = str(rng.choice(FILL_METHODS, p=FILL_PROBABILITIES[large]))
    params: dict = {"region_method": region.method, "region_params": region.params, "grow": grow, "fill": method}
    if method in _INPAINT_FLAGS:
        radius = int(rng.integers(3, 10))
        filled = cv2.inpaint(target, hole.astype(np.uint8), radius, _INPAINT_FLAGS[method])
        grain = _surrounding_grain(target, hole) * float(rng.uniform(0.5, 1.0)) if rng.random() < 0.5 else 0.0
        if grain:
            noise = rng.normal(0.0, grain, size=hole.shape)[:, :, None]
            filled = np.clip(np.rint(filled + noise), 0, 255).astype(np.uint8)
        image, footprint = composite(target, filled, hole.astype(np.float32))
        params.update({"inpaint_radius": radius, "regrain_sigma": round(grain, 3)})
    else:
        dx, dy = best_exemplar_offset(target, hole, rng)
        shifted = cv2.warpAffine(
            target, np.float32([[1, 0, -dx], [0, 1, -dy]]), target.shape[1::-1], borderMode=cv2.BORDER_REFLECT
        )
        drawn_mode = "poisson" if rng.random() < 0.5 else "feather"
        radius = int(rng.integers(2, 6))
        image, footprint, mode = blend(target, shifted, hole, drawn_mode, radius)
        params.update({
            "exemplar_offset_xy": [dx, dy],
            "blend_drawn": drawn_mode,
            "blend": mode,
            "feather_radius": radius if mode == "feather" else 0,
        })
    return Edit(image, footprint, params)


def _surrounding_grain(rgb: np.ndarray, hole: np.ndarray) -> float:
    """Standard deviation of the fine texture (image minus its 3×3 median) around the hole, so
    that a smooth diffusion fill can be given the grain of its surroundings."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    residual = gray.astype(np.float32) - cv2.medianBlur(gray, 3).astype(np.float32)
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((2 * RING + 1,) * 2, np.uint8)).astype(bool) & ~hole
    return float(residual[ring].std()) if ring.any() else 0.0


def best_exemplar_offset(rgb: np.ndarray, hole: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Offset (dx, dy) such that the pixels at hole + offset best continue the hole's surroundings."""
    height, width = hole.shape
    ring_kernel = np.ones((2 * RING + 1, 2 * RING + 1), np.uint8)
    around = cv2.dilate(hole.astype(np.uint8), ring_kernel).astype(bool)
    ring_y, ring_x = np.nonzero(around & ~hole)
    x, y, w, h = cv2.boundingRect(around.astype(np.uint8))
    dx = rng.integers(-x, width - (x + w) + 1, size=EXEMPLAR_CANDIDATES)
    dy = rng.integers(-y, height - (y + h) + 1, size=EXEMPLAR_CANDIDATES)
    clear = (np.abs(dx) >= w) | (np.abs(dy) >= h)
    dx, dy = dx[clear], dy[clear]
    if not len(dx):
        raise EditFailed("no exemplar area clear of the hole")
    reference = rgb[ring_y, ring_x].astype(np.float32)
    costs = [float(((rgb[ring_y + oy, ring_x + ox].astype(np.float32) - reference) ** 2).mean()) for ox, oy in zip(dx, dy)]
    best = int(np.argmin(costs))
    return int(dx[best]), int(dy[best])
