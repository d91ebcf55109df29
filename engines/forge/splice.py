"""Splice: an object-like region of another photo, scaled, rotated, colour-matched and blended in."""

from __future__ import annotations

import cv2
import numpy as np

from engines.forge.blend import BLEND_MODES, blend, match_colour
from engines.forge.edit import Edit, EditContext, EditFailed
from engines.forge.regions import area_fraction, draw_region
from engines.forge.transform import cut_patch, place, random_position, warp_patch

SCALE_LIMITS = (0.5, 1.6)
MAX_ROTATION_DEG = 25.0
BLEND_PROBABILITIES = (0.2, 0.4, 0.4)
"""hard, feather, poisson."""
COLOUR_RING = 25
"""Pixels around the pasted region whose colour statistics the patch is matched to."""


def splice(target: np.ndarray, ctx: EditContext) -> Edit:
    rng = ctx.rng
    donor = ctx.donor()
    region = draw_region(donor.rgb, rng, ctx.area_range, inside=True)
    low, high = ctx.area_range
    wanted_area = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    scale = float(np.clip(np.sqrt(wanted_area / area_fraction(region.mask)), *SCALE_LIMITS))
    angle = float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)) if rng.random() < 0.5 else 0.0
    flip = bool(rng.random() < 0.3)
    patch = warp_patch(cut_patch(donor.rgb, region.mask), scale, angle, flip)
    position = random_position(patch, target.shape[:2], rng)
    if position is None:
        raise EditFailed("the scaled donor region does not fit in the target")
    source, mask = place(target, patch, *position)

    strength = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.6 else 0.0
    if strength:
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((2 * COLOUR_RING + 1,) * 2, np.uint8)).astype(bool) & ~mask
        source = match_colour(source, mask, target, ring, strength)
    drawn_mode = str(rng.choice(BLEND_MODES, p=BLEND_PROBABILITIES))
    radius = int(rng.integers(2, 9))
    image, footprint, mode = blend(target, source, mask, drawn_mode, radius)
    params = {
        "donor_crop": donor.crop,
        "region_method": region.method,
        "region_params": region.params,
        "scale": round(scale, 4),
        "rotation_deg": round(angle, 3),
        "flip": flip,
        "position_xy": list(position),
        "colour_match_strength": round(strength, 4),
        "blend_drawn": drawn_mode,
        "blend": mode,
        "feather_radius": radius if mode == "feather" else 0,
    }
    return Edit(image, footprint, params, donors=(donor,))
