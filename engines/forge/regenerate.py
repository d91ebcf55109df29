"""Generative regeneration: a region re-synthesised through a latent autoencoder and pasted back.

Latent-diffusion inpainting leaves the traces of its VAE decoder inside the filled region and a
blended seam around it. The compact profile imitates that with TAEF2 (FLUX.2's tiny
autoencoder): the region's bounding box (plus a margin) is encoded, the latent is perturbed
inside the region (see `LatentRegenerator`), decoded, and pasted back
with a feathered mask, as inpainting pipelines paste their output. The full profile runs a real
diffusers inpainting pipeline (`inpaint_pipeline.py`) on the same crop instead.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from engines.forge.blend import composite, feather_alpha
from engines.forge.edit import Edit, EditContext
from engines.forge.regions import draw_region

CROP_MARGIN = 16
"""Pixels of context around the region given to the autoencoder (decoder edges are unreliable)."""
LATENT_MODES = ("inpaint", "shift", "noise")
NOISE_STRENGTH = {"inpaint": (0.0, 0.3), "shift": (0.0, 0.2), "noise": (0.1, 0.35)}
"""Latent noise inside the region, in units of the latent's standard deviation."""
ALIGN = 8
MAX_WINDOW = 224
"""Side of the window the regenerated region is drawn in (plus the crop margin: TAEF2 sees at
most about 256 × 256 pixels)."""


def regenerate(target: np.ndarray, ctx: EditContext) -> Edit:
    rng = ctx.rng
    if ctx.regenerator is None:
        raise ValueError("regenerate needs ctx.regenerator")
    y0, x0, window = _window(target.shape[:2], rng)
    height, width = target.shape[:2]
    scale = height * width / (window[0] * window[1])
    low, high = ctx.area_range
    window_range = (min(low * scale, 0.4), min(high * scale, 0.5))
    region = draw_region(target[y0:y0 + window[0], x0:x0 + window[1]], rng, window_range)
    mask = np.zeros((height, width), bool)
    mask[y0:y0 + window[0], x0:x0 + window[1]] = region.mask
    radius = int(rng.integers(2, 9))
    alpha = feather_alpha(mask, radius)
    x0, y0, x1, y1 = _crop_box(alpha > 0, CROP_MARGIN)
    crop, crop_mask = _padded(target[y0:y1, x0:x1]), _padded(mask[y0:y1, x0:x1])
    regenerator = ctx.regenerator()
    new_crop, model_params = regenerator(crop, crop_mask, rng)
    edited = target.copy()
    edited[y0:y1, x0:x1] = new_crop[: y1 - y0, : x1 - x0]
    image, footprint = composite(target, edited, alpha)
    params = {
        "region_method": region.method,
        "region_params": region.params,
        "backend": regenerator.name,
        "crop_box_xyxy": [x0, y0, x1, y1],
        **model_params,
        "feather_radius": radius,
    }
    return Edit(image, footprint, params)


def _window(shape: tuple[int, int], rng: np.random.Generator) -> tuple[int, int, tuple[int, int]]:
    """(y, x, (height, width)) of a random window of at most MAX_WINDOW per side the region is
    drawn in: inpainting pipelines regenerate an object-sized box, and TAEF2's cost grows with it."""
    height, width = shape
    size = (min(height, MAX_WINDOW), min(width, MAX_WINDOW))
    return int(rng.integers(0, height - size[0] + 1)), int(rng.integers(0, width - size[1] + 1)), size


def _crop_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    height, width = mask.shape
    return max(0, x - margin), max(0, y - margin), min(width, x + w + margin), min(height, y + h + margin)


def _padded(array: np.ndarray) -> np.ndarray:
    """Reflect-pad the bottom and right so both sides are multiples of ALIGN."""
    height, width = array.shape[:2]
    pad = ((0, -height % ALIGN), (0, -width % ALIGN)) + ((0, 0),) * (array.ndim - 2)
    return np.pad(array, pad, mode="reflect") if any(p[1] for p in pad) else array


class LatentRegenerator:
    """TAEF2 encode → change the latent inside the mask → decode.

    Modes: `inpaint` (the region is first filled in image space by Telea inpainting, so its
    latents describe plausible surroundings, as in object removal), `shift` (latents inside the
    region replaced by those a few latent cells away: re-synthesised neighbouring content), and
    `noise` (mild latent noise: the same content redrawn, as low-strength img2img). Each keeps
    latents in the decoder's usual range, which blurring or strong noise would not.
    """

    name = "taef2"

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, crop: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        import torch

        height, width = crop.shape[:2]
        mode = str(rng.choice(LATENT_MODES))
        params: dict = {"latent_mode": mode}
        if mode == "inpaint":
            crop = cv2.inpaint(crop, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)
        pixels = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0
        small = cv2.resize(mask.astype(np.float32), (width // ALIGN, height // ALIGN), interpolation=cv2.INTER_AREA)
        weight = torch.from_numpy((small > 0).astype(np.float32))[None, None]
        with torch.inference_mode():
            latent = self.model.encode(pixels)
            if mode == "shift":
                shift = [int(v) * int(rng.choice([-1, 1])) for v in rng.integers(2, 7, size=2)]
                shifted = torch.roll(latent, shifts=(shift[1], shift[0]), dims=(2, 3))
                latent = latent * (1 - weight) + shifted * weight
                params["latent_shift_xy"] = shift
            strength = float(rng.uniform(*NOISE_STRENGTH[mode]))
            noise = torch.from_numpy(rng.standard_normal(tuple(latent.shape)).astype(np.float32))
            latent = latent + weight * strength * latent.std() * noise
            params["noise_strength"] = round(strength, 4)
            decoded = self.model.decode(latent)
        out = np.clip(np.rint(decoded[0].permute(1, 2, 0).numpy() * 255.0), 0, 255).astype(np.uint8)
        return out, params


@functools.cache
def shared_latent_regenerator() -> LatentRegenerator:
    """One TAEF2 per process (loaded on first use, weights from the model store)."""
    from engines.backbones.taef2 import load_taef2

    return LatentRegenerator(load_taef2())
