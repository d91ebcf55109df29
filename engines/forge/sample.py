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

from engines.forge.checks import CheckResult, check_edit
from engines.forge.config import AUTHENTIC, ForgeConfig
from engines.forge.copy_move import copy_move
from engines.forge.edit import PhotoCrop, Edit, EditContext, EditFailed
from engines.forge.meta import region_summary
from engines.forge.partial import partial
from engines.forge.photos import PhotoSet, PhotoUnreadable, load_photo, square_crop
from engines.forge.post import draw_post_chain
from engines.forge.regenerate import regenerate, shared_latent_regenerator
from engines.forge.removal import removal
from engines.forge.splice import splice

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
    """bool, tampered samples only."""
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
        try:
            target = _draw_photo(photos, config.size, rng)
            edit, checks = _edit(kind, target, config, photos, rng)
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
        chain = draw_post_chain(rng)
        chain_seed = int(rng.integers(2**31))
        sample.original, sample.forged = target.rgb, edit.image
        sample.image = chain.apply(edit.image, seed=chain_seed)
        sample.mask = edit.mask if kind != AUTHENTIC else None
        sample.meta = {
            "stem": sample.stem,
            "index": index,
            "edit_type": kind,
            "tampered": kind != AUTHENTIC,
            "sources": [target.source, *(donor.source for donor in edit.donors)],
            "region": region_summary(edit.mask) if kind != AUTHENTIC else None,
            "params": {"target_crop": target.crop, **edit.params, "attempt": attempt, "post_chain_seed": chain_seed},
            "post_chain": chain.to_list(),
            "seed": seed,
            "size": config.size,
            "checks": checks.to_dict() if checks is not None else None,
        }
        return sample
    return sample


def _edit(
    kind: str, target: PhotoCrop, config: ForgeConfig, photos: PhotoSet, rng: np.random.Generator
) -> tuple[Edit, CheckResult | None]:
    if kind == AUTHENTIC:
        return Edit(target.rgb, np.zeros(target.rgb.shape[:2], bool), {}), None
    ctx = EditContext(
        rng=rng,
        area_range=config.area_range,
        donor=lambda: _draw_photo(photos, config.size, rng, exclude=target.source),
        regenerator=regenerator_for(config),
    )
    edit = EDIT_FUNCTIONS[kind](target.rgb, ctx)
    return edit, check_edit(target.rgb, edit.image, edit.mask, config.area_range, config.min_changed_fraction)


def _draw_photo(photos: PhotoSet, size: int, rng: np.random.Generator, exclude: str | None = None) -> PhotoCrop:
    """A random photo, cropped; `exclude` is avoided when there is another photo to take."""
    choices = [p for p in photos.photos if p != exclude] or list(photos.photos)
    source = choices[int(rng.integers(len(choices)))]
    rgb, crop = square_crop(load_photo(photos.path(source)), size, rng)
    return PhotoCrop(rgb, source, crop)
