"""Copy-move: an object-like region of the same photo, optionally rotated, scaled or flipped, pasted
elsewhere without overlapping its source. The mask marks the pasted copy only (the pixels that
changed), as COVERAGE's `forged` masks do; the source region is recorded in the parameters.
"""

from __future__ import annotations

import cv2
import numpy as np

from engines.forge.blend import BLEND_MODES, blend
from engines.forge.edit import Edit, EditContext, EditFailed
from engines.forge.regions import draw_region
from engines.forge.transform import cut_patch, place, random_position, warp_patch

MAX_AREA = 0.25
"""A copy and its source must both fit in the image."""
SCALE_RANGE = (0.75, 1.25)
MAX_ROTATION_DEG = 45.0
BLEND_PROBABILITIES = (0.3, 0.4, 0.3)
"""hard, feather, poisson."""
SOURCE_GAP = 8
"""Minimum distance in pixels between the source region and the pasted copy."""


def copy_move(target: np.ndarray, ctx: EditContext) -> Edit:
    rng = ctx.rng
    low, high = ctx.area_range
    region = draw_region(target, rng, (low, min(high, MAX_AREA)), inside=True)
    scale = float(rng.uniform(*SCALE_RANGE)) if rng.random() < 0.5 else 1.0
    angle = float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)) if rng.random() < 0.4 else 0.0
    flip = bool(rng.random() < 0.3)
    patch = warp_patch(cut_patch(target, region.mask), scale, angle, flip)
    forbidden = cv2.dilate(region.mask.astype(np.uint8), np.ones((2 * SOURCE_GAP + 1,) * 2, np.uint8)).astype(bool)
    position = random_position(patch, target.shape[:2], rng, forbidden=forbidden)
    if position is None:
        raise EditFailed("no place for the copy that keeps clear of its source")
    source, mask = place(target, patch, *position)
    drawn_mode = str(rng.choice(BLEND_MODES, p=BLEND_PROBABILITIES))
    radius = int(rng.integers(2, 7))
    image, footprint, mode = blend(target, source, mask, drawn_mode, radius)
    x, y, w, h = cv2.boundingRect(region.mask.astype(np.uint8))
    params = {
        "region_method": region.method,
        "region_params": region.params,
        "source_box_xyxy": [x, y, x + w, y + h],
        "scale": round(scale, 4),
        "rotation_deg": round(angle, 3),
        "flip": flip,
        "position_xy": list(position),
        "blend_drawn": drawn_mode,
        "blend": mode,
        "feather_radius": radius if mode == "feather" else 0,
    }
    return Edit(image, footprint, params)
