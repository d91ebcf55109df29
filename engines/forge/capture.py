"""Forge v2, before the edit: a photo as a camera would have delivered it.

Real splices are made from camera JPEGs. So every photo a v2 sample uses — the host and each
donor, independently — is cropped at its own pixel grid (or after a camera-like downscale, as
phones and web galleries do), given its own sensor-like noise level and saved once as a JPEG with
its own quality and chroma subsampling. A donor therefore carries another compression history and
another noise level than the host it is pasted into, which is the trace real detectors learn.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

NATIVE_PROBABILITY = 0.4
"""Share of crops taken at the photo's own pixel grid; the others are downscaled first, by a
factor drawn log-uniformly between "the crop shows the whole photo" and DOWNSCALE_MAX (web and
benchmark photos are mostly whole scenes at a few hundred pixels)."""
DOWNSCALE_MAX = 0.95
CAPTURE_JPEG_QUALITY = (75, 98)
SUBSAMPLING_CHOICES = (0, 1, 2)
"""Pillow's chroma subsampling: 4:4:4, 4:2:2, 4:2:0."""
SUBSAMPLING_PROBABILITIES = (0.25, 0.15, 0.6)
SENSOR_NOISE_SIGMA = (0.0, 2.5)
SENSOR_NOISE_PROBABILITY = 0.5


def jpeg_roundtrip(rgb: np.ndarray, quality: int, subsampling: int) -> np.ndarray:
    """Encode as a baseline JPEG with Pillow (libjpeg, as most cameras' software) and decode."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=int(quality), subsampling=int(subsampling))
    buffer.seek(0)
    with Image.open(buffer) as image:
        return np.asarray(image.convert("RGB")).copy()


def draw_jpeg(rng: np.random.Generator, quality_range: tuple[int, int]) -> dict:
    return {"quality": int(rng.integers(quality_range[0], quality_range[1] + 1)),
            "subsampling": int(rng.choice(SUBSAMPLING_CHOICES, p=SUBSAMPLING_PROBABILITIES))}


def native_crop(rgb: np.ndarray, side: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A side×side crop at the photo's own grid or after a camera-like downscale (INTER_AREA).

    A photo whose short side is below `side` is upscaled to it (bicubic) — the fallback for small
    photos, recorded as a scale above 1.
    """
    height, width = rgb.shape[:2]
    short = min(height, width)
    scale = 1.0
    if short < side:
        scale = side / short
    elif rng.random() >= NATIVE_PROBABILITY and short * DOWNSCALE_MAX > side:
        scale = float(np.exp(rng.uniform(np.log(side / short), np.log(DOWNSCALE_MAX))))
    if scale != 1.0:
        size = (max(side, round(width * scale)), max(side, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        height, width = rgb.shape[:2]
    x = int(rng.integers(0, width - side + 1))
    y = int(rng.integers(0, height - side + 1))
    crop = np.ascontiguousarray(rgb[y:y + side, x:x + side])
    return crop, {"crop_xywh": [x, y, side, side], "scale": round(scale, 4)}


def capture(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Sensor-like noise (half of the photos), then the camera's JPEG."""
    params: dict = {"noise_sigma": 0.0}
    if rng.random() < SENSOR_NOISE_PROBABILITY:
        sigma = float(rng.uniform(*SENSOR_NOISE_SIGMA))
        noisy = rgb.astype(np.float32) + rng.normal(0.0, sigma, rgb.shape).astype(np.float32)
        rgb = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        params["noise_sigma"] = round(sigma, 3)
    jpeg = draw_jpeg(rng, CAPTURE_JPEG_QUALITY)
    params["jpeg"] = jpeg
    return jpeg_roundtrip(rgb, **jpeg), params
