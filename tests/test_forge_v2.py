"""Forge v2: native-resolution crops, camera-like capture, edit history, balance, the stream."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engines.forge.capture import jpeg_roundtrip, native_crop
from engines.forge.config import AUTHENTIC, ForgeConfig
from engines.forge.history import final_save, touch_up
from engines.forge.meta import validate_meta
from engines.forge.photos import scan_photo_folders, scan_photos
from engines.forge.sample import make_sample
from engines.forge.stream import ForgeSource, ForgeStream, collate, forge_item, kind_of, training_crop

SIDES = (96, 160)


def _photo(seed: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([60 + 0.3 * yy, 90 + 0.2 * xx, 140 - 0.2 * yy], -1) + rng.normal(0, 4, (height, width, 3))
    for _ in range(5):
        centre = (int(rng.integers(20, width - 20)), int(rng.integers(20, height - 20)))
        cv2.circle(image, centre, int(rng.integers(10, 40)), [float(c) for c in rng.integers(0, 256, 3)], -1)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def photo_dirs(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, seeds in ((first, range(4)), (second, range(4, 8))):
        folder.mkdir()
        for seed in seeds:
            cv2.imwrite(str(folder / f"p{seed}.jpg"), _photo(seed, 260, 340))
    return first, second


def _config(**overrides) -> ForgeConfig:
    return ForgeConfig(**{"seed": 3, "size_range": SIDES, "types": ("splice", "copy_move", "removal", "partial"),
                          **overrides})


def test_native_crop_keeps_the_photos_pixel_grid_or_downscales():
    photo = _photo(0, 300, 400)
    seen_native = seen_scaled = False
    for seed in range(20):
        crop, params = native_crop(photo, 128, np.random.default_rng(seed))
        assert crop.shape == (128, 128, 3)
        if params["scale"] == 1.0:
            x, y, _, _ = params["crop_xywh"]
            assert np.array_equal(crop, photo[y:y + 128, x:x + 128])
            seen_native = True
        else:
            assert 128 / 300 <= params["scale"] < 1
            seen_scaled = True
    assert seen_native and seen_scaled


def test_jpeg_roundtrip_leaves_a_blocking_trace_that_a_second_save_misaligns():
    photo = _photo(1, 128, 128)
    once = jpeg_roundtrip(photo, 80, 2)
    assert 0 < np.abs(once.astype(int) - photo).mean() < 6
    saved, mask, params = final_save(once, np.ones((128, 128), bool), np.random.default_rng(2))
    assert mask is not None and mask.shape == saved.shape[:2]


def test_touch_up_changes_only_a_band_inside_the_mask():
    image = _photo(2, 120, 120)
    mask = np.zeros((120, 120), bool)
    mask[30:90, 40:100] = True
    out, params = touch_up(image, mask, np.random.default_rng(0))
    changed = (out != image).any(axis=2)
    assert changed.any() and not (changed & ~mask).any()
    assert not changed[45:75, 55:85].any()  # the interior stays


def test_v2_samples_have_exact_edit_masks_varied_sizes_and_a_recorded_history(photo_dirs):
    config = _config()
    photos = scan_photos(photo_dirs[0], config.min_photo_side)
    sides = set()
    for index in range(12):
        kind = ("splice", "copy_move", "removal", "partial", AUTHENTIC)[index % 5]
        sample = make_sample(index, kind, config, photos)
        assert sample.ok, sample.rejected
        changed = (sample.forged != sample.original).any(axis=2)
        assert not (changed & ~sample.edit_mask).any()
        assert validate_meta(sample.meta) == []
        history = sample.meta["history"]
        assert history["capture"]["jpeg"]["quality"] >= 75
        final = history["final"]
        dx, dy = final["crop_top_left"]
        assert sample.image.shape[0] <= sample.meta["size"] - dy
        if kind == AUTHENTIC:
            assert sample.mask is None and history["touch_up"] is None
        else:
            assert sample.mask.shape == sample.image.shape[:2] and sample.mask.any()
        if kind == "splice":
            assert len(history["donor_captures"]) == 1
        sides.add(sample.meta["size"])
    assert len(sides) > 3 and all(SIDES[0] <= s <= SIDES[1] for s in sides)


def test_stream_is_balanced_and_reproducible_whatever_the_workers(photo_dirs):
    config = _config()
    kinds = Counter(kind_of(i, config) == AUTHENTIC for i in range(2000))
    assert abs(kinds[True] / 2000 - 0.5) < 0.04
    photos = scan_photo_folders(photo_dirs, config.min_photo_side)
    assert len(photos.photos) == 8 and photos.path(photos.photos[-1]).is_file()
    items = list(ForgeStream(config, photos, crop=64, start=5, count=4))
    assert [i.index for i in items] == [5, 6, 7, 8]
    again = forge_item(7, config, photos, 64)
    assert torch.equal(again.image, items[2].image) and torch.equal(again.mask, items[2].mask)
    for item in items:
        assert item.image.shape == (3, 64, 64) and item.mask.shape == (1, 64, 64)
        assert item.label == float(item.mask.sum() >= 16)
    batch = collate(items)
    assert batch["images"].shape == (4, 3, 64, 64) and batch["labels"].shape == (4,)


def test_training_crop_keeps_the_region_and_pads_small_images():
    image = _photo(3, 50, 60)
    mask = np.zeros((50, 60), bool)
    mask[20:30, 25:40] = True
    crop, crop_mask = training_crop(image, mask, 64, np.random.default_rng(0))
    assert crop.shape == (64, 64, 3) and crop_mask.sum() == mask.sum()
    big = _photo(4, 300, 300)
    big_mask = np.zeros((300, 300), bool)
    big_mask[240:260, 30:50] = True
    _, kept = training_crop(big, big_mask, 96, np.random.default_rng(1))
    assert kept.sum() == big_mask.sum()


def test_forge_source_holds_out_photos_for_validation(photo_dirs):
    source = ForgeSource(photo_dirs=photo_dirs, config=_config(), validation_samples=6, held_out_photos=0.3)
    training, held_out = source.photo_sets
    assert set(training.photos).isdisjoint(held_out.photos)
    assert len(training.photos) + len(held_out.photos) == 8
    items = source.validation_items(64)
    assert 4 <= len(items) <= 6
    loader = source.loader(64, batch_size=2, start=0, count=4)
    batches = list(loader)
    assert sum(len(b["labels"]) for b in batches) == 4
