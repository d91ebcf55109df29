"""One sample: draw a photo crop, apply an edit, check it, post-process it.

Sample `index` depends only on (config, photo set, index, kind): its generator is seeded from
(config.seed, index, attempt), and OpenCV's own generator (GrabCut, k-means) is reseeded per
attempt, so the output is the same whichever worker makes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from engines.forge.capture import capture, native_crop
from engines.forge.checks import CheckResult, check_edit
from engines.forge.config import AUTHENTIC, ForgeConfig
from engines.forge.copy_move import copy_move
from engines.forge.edit import PhotoCrop, Edit, EditContext, EditFailed
from engines.forge.history import TOUCH_UP_PROBABILITY, final_save, touch_up
from engines.forge.meta import region_summary
from engines.forge.partial import partial
from engines.forge.photos import PhotoSet, PhotoUnreadable, load_photo, square_crop
from engines.forge.post import draw_post_chain
from engines.forge.regenerate import regenerate, shared_latent_regenerator
from engines.forge.removal import removal
from engines.forge.splice import splice

MAX_PHOTO_SIDE = 2048
"""Version 2: larger JPEGs are decoded at a reduced DCT scale (see `photos.load_photo`)."""

EDIT_FUNCTIONS: dict[str, Callable[[np.ndarray, EditContext], Edit]] = {
    "splice": splice,
    "copy_move": copy_move,
    "removal": removal,
    "regenerate": regenerate,
    "partial": partial,
}


@dataclass
class ForgedSample:
    index: int
    kind: str
    stem: str
    original: np.ndarray | None = None
    """The photo crop before editing."""
    forged: np.ndarray | None = None
    """After the edit, before post-processing."""
    image: np.ndarray | None = None
    """The final image (after post-processing); None when the sample was dropped."""
    mask: np.ndarray | None = None
    """bool, tampered samples only: the final image's mask."""
    edit_mask: np.ndarray | None = None
    """bool: the edit's footprint on `forged` (before post-processing); empty for authentic."""
    meta: dict | None = None
    rejected: list[str] = field(default_factory=list)
    """Why earlier draws of this sample were redrawn (one reason per failed draw)."""
    unreadable: list[str] = field(default_factory=list)
    """Photos (relative paths) that failed to decode while drawing this sample."""

    @property
    def ok(self) -> bool:
        return self.image is not None


def sample_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint32)[0])


def sample_stem(index: int, kind: str) -> str:
    return f"{index:06d}_{kind}"


@functools.cache
def _diffusers_regenerator(model: str):
    from engines.forge.inpaint_pipeline import DiffusersInpainter

    return DiffusersInpainter.load(model)


def regenerator_for(config: ForgeConfig) -> Callable[[], object]:
    if config.inpaint_model:
        return functools.partial(_diffusers_regenerator, config.inpaint_model)
    return shared_latent_regenerator


def make_sample(index: int, kind: str, config: ForgeConfig, photos: PhotoSet) -> ForgedSample:
    seed = sample_seed(config.seed, index)
    sample = ForgedSample(index, kind, sample_stem(index, kind))
    for attempt in range(config.max_attempts):
        rng = np.random.default_rng([seed, attempt])
        cv2.setRNGSeed(int(rng.integers(2**31)))
        side = config.sample_side(rng)
        try:
            target = _draw_photo(photos, side, config.version, rng)
            edit, checks = _edit(kind, target, side, config, photos, rng)
        except PhotoUnreadable as exc:
            sample.unreadable.append(photos.relative(exc.path))
            sample.rejected.append("photo unreadable")
            continue
        except EditFailed as exc:
            sample.rejected.append(str(exc))
            continue
        if checks is not None and checks.failure:
            sample.rejected.append(checks.failure)
            continue
        sample.original, sample.forged, sample.edit_mask = target.rgb, edit.image, edit.mask
        if config.version == 1:
            chain = draw_post_chain(rng)
            chain_seed = int(rng.integers(2**31))
            sample.image = chain.apply(edit.image, seed=chain_seed)
            sample.mask = edit.mask if kind != AUTHENTIC else None
            post_chain, history = chain.to_list(), None
        else:
            chain_seed = 0
            sample.image, sample.mask, history = _edit_history(kind, edit, target, donors=edit.donors, rng=rng)
            post_chain = []
        sample.meta = {
            "stem": sample.stem,
            "index": index,
            "edit_type": kind,
            "tampered": kind != AUTHENTIC,
            "sources": [target.source, *(donor.source for donor in edit.donors)],
            "region": region_summary(sample.mask) if kind != AUTHENTIC else None,
            "params": {"target_crop": target.crop, **edit.params, "attempt": attempt, "post_chain_seed": chain_seed},
            "post_chain": post_chain,
            "history": history,
            "version": config.version,
            "seed": seed,
            "size": side,
            "checks": checks.to_dict() if checks is not None else None,
        }
        return sample
    return sample


def _edit(
    kind: str, target: PhotoCrop, side: int, config: ForgeConfig, photos: PhotoSet, rng: np.random.Generator
) -> tuple[Edit, CheckResult | None]:
    if kind == AUTHENTIC:
        return Edit(target.rgb, np.zeros(target.rgb.shape[:2], bool), {}), None
    ctx = EditContext(
        rng=rng,
        area_range=config.area_range,
        donor=lambda: _draw_photo(photos, side, config.version, rng, exclude=target.source),
        regenerator=regenerator_for(config),
    )
    edit = EDIT_FUNCTIONS[kind](target.rgb, ctx)
    return edit, check_edit(target.rgb, edit.image, edit.mask, config.area_range, config.min_changed_fraction)


def _edit_history(kind: str, edit: Edit, target: PhotoCrop, donors: tuple[PhotoCrop, ...],
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Version 2 after the edit: touch-up (tampered only), then the final save (`history.py`)."""
    image, touch = edit.image, None
    mask = edit.mask if kind != AUTHENTIC else None
    if mask is not None and rng.random() < TOUCH_UP_PROBABILITY:
        image, touch = touch_up(image, mask, rng)
    image, mask, final = final_save(image, mask, rng)
    return image, mask, {"capture": target.crop.get("capture"),
                         "donor_captures": [d.crop.get("capture") for d in donors],
                         "touch_up": touch, "final": final}


def _draw_photo(photos: PhotoSet, side: int, version: int, rng: np.random.Generator,
                exclude: str | None = None) -> PhotoCrop:
    """A random photo, cropped (version 2: at its own grid, then captured as a camera would);
    `exclude` is avoided when there is another photo to take."""
    choices = [p for p in photos.photos if p != exclude] or list(photos.photos)
    source = choices[int(rng.integers(len(choices)))]
    photo = load_photo(photos.path(source), max_side=None if version == 1 else MAX_PHOTO_SIDE)
    if version == 1:
        rgb, crop = square_crop(photo, side, rng)
    else:
        rgb, crop = native_crop(photo, side, rng)
        rgb, crop["capture"] = capture(rgb, rng)
    return PhotoCrop(rgb, source, crop)
