"""Procedural photo-like scenes and simple forgeries of them, for example images and tests.

Nothing here reads a photo: scenes are drawn from a seed (sky gradient, textured ground, a few
buildings and a sun, sensor-like grain), so the shipped examples carry no third-party content.
The forgeries leave the traces classic forensics looks for: the host is JPEG-compressed at a low
quality first, then the edited image is saved again at a higher quality by the caller, so the
untouched background is compressed twice and the pasted region once.
"""

from __future__ import annotations

import cv2
import numpy as np

from engines.data.perturb import jpeg

HOST_QUALITY = 60
"""The first (lower) JPEG quality of a forgery's host image."""


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] (bicubic upsampling of a coarse random grid)."""
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def procedural_scene(seed: int, height: int = 288, width: int = 384, grain: float = 2.0) -> np.ndarray:
    """An RGB uint8 landscape: sky, hills, buildings with windows, a sun, and grain of σ `grain`."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sky_top, sky_low = rng.uniform([40, 90, 170], [90, 140, 230]), rng.uniform([150, 190, 220], [200, 220, 250])
    t = (yy / height)[..., None]
    image = sky_top * (1 - t) + sky_low * t
    horizon = height * rng.uniform(0.45, 0.6) + 18 * _smooth_noise(rng, 1, width, 6)[0]
    ground = yy > horizon[None, :]
    ground_colour = rng.uniform([60, 90, 30], [110, 150, 70])
    texture = 25 * _smooth_noise(rng, height, width, 24) + 10 * _smooth_noise(rng, height, width, 60)
    texture = texture[..., None]
    image[ground] = (ground_colour + texture)[ground]
    sun = (int(rng.integers(width // 8, width - width // 8)), int(rng.integers(height // 10, height // 4)))
    cv2.circle(image, sun, int(rng.integers(height // 16, height // 9)), (250, 235, 180), -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(3, 6))):
        w, h = int(rng.integers(width // 12, width // 6)), int(rng.integers(height // 8, height // 3))
        x = int(rng.integers(0, width - w))
        base = int(horizon[min(x + w // 2, width - 1)]) + int(rng.integers(5, 25))
        colour = [float(c) for c in rng.uniform(70, 220, 3)]
        cv2.rectangle(image, (x, base - h), (x + w, base), colour, -1)
        for wy in range(base - h + 6, base - 8, 14):
            for wx in range(x + 5, x + w - 8, 12):
                cv2.rectangle(image, (wx, wy), (wx + 5, wy + 7), (40, 45, 60), -1)
    image = cv2.GaussianBlur(image, (3, 3), 0.6)
    image += rng.normal(0, grain, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _blob_mask(rng: np.random.Generator, height: int, width: int, scale: float) -> np.ndarray:
    """A filled irregular polygon covering roughly `scale`² of the image, away from the borders."""
    centre = np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.35, 0.7) * height])
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = scale * min(height, width) * rng.uniform(0.6, 1.0, 9)
    points = centre + np.stack([np.cos(angles) * radii, np.sin(angles) * radii], -1)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [points.astype(np.int32)], 1)
    return mask.astype(bool)


def spliced_scene(seed: int, height: int = 288, width: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask): a region of another, noisier, never-compressed scene pasted into a host
    that was JPEG-compressed at `HOST_QUALITY`."""
    rng = np.random.default_rng(seed)
    host = jpeg(procedural_scene(seed, height, width), HOST_QUALITY)
    donor = procedural_scene(seed + 1000, height, width, grain=6.0)
    mask = _blob_mask(rng, height, width, 0.22)
    out = host.copy()
    out[mask] = donor[mask]
    return out, mask


def copy_moved_scene(seed: int, height: int = 288, width: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask): a block of a `HOST_QUALITY`-compressed scene copied elsewhere in the same
    image and enlarged by 25 % on the way (as when a copied object is resized to fit), which
    smooths its grain and moves it off the JPEG grid."""
    host = jpeg(procedural_scene(seed, height, width), HOST_QUALITY)
    block_h, block_w = height // 4, width // 5
    y0, x0 = int(height * 0.4), int(width * 0.1)
    block = host[y0:y0 + block_h, x0:x0 + block_w]
    grown_h, grown_w = int(block_h * 1.25), int(block_w * 1.25)
    grown = cv2.resize(block, (grown_w, grown_h), interpolation=cv2.INTER_LINEAR)
    y1, x1 = int(height * 0.55) + 3, int(width * 0.6) + 5
    out = host.copy()
    out[y1:y1 + grown_h, x1:x1 + grown_w] = grown
    mask = np.zeros((height, width), bool)
    mask[y1:y1 + grown_h, x1:x1 + grown_w] = True
    return out, mask
