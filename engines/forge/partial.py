"""Partial change: the colour, brightness or texture of an object-like region altered in place."""

from __future__ import annotations

import cv2
import numpy as np

from engines.forge.blend import composite, feather_alpha
from engines.forge.edit import Edit, EditContext
from engines.forge.regions import draw_region

CHANGES = ("colour", "brightness", "texture")
TEXTURES = ("smooth", "sharpen", "grain")


def partial(target: np.ndarray, ctx: EditContext) -> Edit:
    rng = ctx.rng
    region = draw_region(target, rng, ctx.area_range)
    change = str(rng.choice(CHANGES))
    changed, change_params = _CHANGERS[change](target, rng)
    radius = int(rng.integers(1, 7))
    image, footprint = composite(target, changed, feather_alpha(region.mask, radius))
    params = {
        "region_method": region.method,
        "region_params": region.params,
        "change": change,
        **change_params,
        "feather_radius": radius,
    }
    return Edit(image, footprint, params)


def _signed(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def _colour(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Hue rotation and saturation gain in HSV (OpenCV hue units: 0–180)."""
    hue_shift = _signed(rng, 10, 60)
    saturation_gain = float(rng.uniform(0.7, 1.6))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + hue_shift * 256.0 / 180.0) % 256.0
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation_gain, 0, 255)
    out = cv2.cvtColor(np.rint(hsv).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
    return out, {"hue_shift": round(hue_shift, 3), "saturation_gain": round(saturation_gain, 4)}


def _brightness(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Gain and gamma on all channels (a relit or dodged/burned object)."""
    gain = float(np.exp(_signed(rng, 0.15, 0.45)))
    gamma = float(np.exp(rng.uniform(-0.25, 0.25)))
    table = np.clip(255.0 * gain * (np.arange(256) / 255.0) ** gamma, 0, 255)
    out = cv2.LUT(rgb, np.rint(table).astype(np.uint8))
    return out, {"gain": round(gain, 4), "gamma": round(gamma, 4)}


def _texture(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Smoothing (retouching), sharpening, or added grain."""
    kind = str(rng.choice(TEXTURES))
    if kind == "smooth":
        sigma_colour = float(rng.uniform(30, 80))
        out = cv2.bilateralFilter(rgb, 9, sigma_colour, 7)
        return out, {"texture": kind, "bilateral_sigma_colour": round(sigma_colour, 3)}
    if kind == "sharpen":
        amount = float(rng.uniform(1.0, 2.5))
        blurred = cv2.GaussianBlur(rgb, (0, 0), 1.5)
        out = cv2.addWeighted(rgb, 1 + amount, blurred, -amount, 0)
        return out, {"texture": kind, "unsharp_amount": round(amount, 4)}
    sigma = float(rng.uniform(6, 14))
    grain = rng.normal(0, sigma, size=rgb.shape[:2])[:, :, None].astype(np.float32)
    out = np.clip(np.rint(rgb.astype(np.float32) + grain), 0, 255).astype(np.uint8)
    return out, {"texture": kind, "grain_sigma": round(sigma, 3)}


_CHANGERS = {"colour": _colour, "brightness": _brightness, "texture": _texture}
