"""Forge v2, after the edit: what a forger's tool and an upload do to the finished image.

Tampered samples may first get a touch-up along the inside of the region's boundary (a soft
blur or a sharpen, as retouching tools leave). Then every sample — authentic ones too, from the
same distribution, so that post-processing alone never looks like tampering — may be resized
(downscale, not restored), cropped by 1–7 pixels at the top-left (so a second JPEG's 8×8 grid no
longer lines up with the first one's), and saved again as JPEG with an independently drawn
quality, or kept lossless. Masks follow every geometric step exactly (crop) or by area coverage
(resize).
"""

from __future__ import annotations

import cv2
import numpy as np

from engines.forge.capture import draw_jpeg, jpeg_roundtrip

TOUCH_UP_PROBABILITY = 0.3
TOUCH_UP_BAND = (2, 6)
"""Pixels inside the boundary that a touch-up changes."""
RESIZE_PROBABILITY = 0.2
RESIZE_SCALE = (0.6, 0.95)
MISALIGN_PROBABILITY = 0.5
SECOND_JPEG_PROBABILITY = 0.75
SECOND_JPEG_QUALITY = (60, 98)


def touch_up(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Blur or sharpen a band just inside the region's boundary; pixels outside stay unchanged."""
    band_width = int(rng.integers(*TOUCH_UP_BAND))
    kernel = np.ones((2 * band_width + 1,) * 2, np.uint8)
    inner = cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    band = mask & ~inner
    kind = "blur" if rng.random() < 0.6 else "sharpen"
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=float(rng.uniform(0.8, 2.0)))
    if kind == "blur":
        changed = blurred
    else:
        amount = float(rng.uniform(0.5, 1.5))
        changed = cv2.addWeighted(image, 1 + amount, blurred, -amount, 0)
    out = image.copy()
    out[band] = changed[band]
    return out, {"kind": kind, "band_px": band_width}


def final_save(image: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
               min_side: int = 0) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Resize, grid-shifting crop and second JPEG, each drawn independently (see module doc).

    `min_side` keeps the result at least that large (a resize is skipped if it would not).
    """
    params: dict = {"resize": None, "crop_top_left": [0, 0], "jpeg": None}
    height, width = image.shape[:2]
    if rng.random() < RESIZE_PROBABILITY:
        scale = float(rng.uniform(*RESIZE_SCALE))
        size = (round(width * scale), round(height * scale))
        if min(size) - 8 >= min_side:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            if mask is not None:
                mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
            params["resize"] = round(scale, 4)
    if rng.random() < MISALIGN_PROBABILITY:
        dx, dy = (int(v) for v in rng.integers(1, 8, size=2))
        image = np.ascontiguousarray(image[dy:, dx:])
        mask = mask[dy:, dx:] if mask is not None else None
        params["crop_top_left"] = [dx, dy]
    if rng.random() < SECOND_JPEG_PROBABILITY:
        jpeg = draw_jpeg(rng, SECOND_JPEG_QUALITY)
        image = jpeg_roundtrip(image, **jpeg)
        params["jpeg"] = jpeg
    return image, mask, params
