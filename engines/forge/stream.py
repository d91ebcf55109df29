"""Forge samples generated inside a training run: a `torch.utils.data.IterableDataset`.

Sample i is `make_sample(i, kind_of(i), …)`, so it is the same whichever worker makes it and a
run that resumes at sample k simply starts the stream at k: nothing is written to disk, and a run
can see as many distinct samples as it trains steps. Each sample becomes one fixed-size training
crop at its own pixel grid (`training_crop`): tampered samples are cropped around their region,
and the label is whether the crop still holds tampered pixels.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from engines.forge.config import AUTHENTIC, ForgeConfig
from engines.forge.photos import PhotoSet, scan_photo_folders
from engines.forge.sample import make_sample

MIN_TAMPERED_PIXELS = 16
"""A crop with fewer tampered pixels than this is labelled authentic."""
VALIDATION_SEED_OFFSET = 1_000_003
"""Validation samples use the forge seed plus this, so they never repeat a training draw."""


def kind_of(index: int, config: ForgeConfig) -> str:
    """The kind of stream sample `index`: authentic with probability `authentic_ratio`, else an
    edit type drawn uniformly (seeded by (seed, index), independent of the sample's own draws)."""
    rng = np.random.default_rng([config.seed, index, 1])
    if not config.types or rng.random() < config.authentic_ratio:
        return AUTHENTIC
    return config.types[int(rng.integers(len(config.types)))]


@dataclass(frozen=True)
class TrainingItem:
    image: torch.Tensor
    """3×S×S float in [0, 1]."""
    mask: torch.Tensor
    """1×S×S float (0/1)."""
    label: float
    index: int


def training_crop(image: np.ndarray, mask: np.ndarray | None, side: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A side×side crop at the image's own grid (reflect-padded when the image is smaller); for a
    tampered image the crop window is placed so that it holds the region's centre."""
    mask = np.zeros(image.shape[:2], bool) if mask is None else mask
    pad_y, pad_x = max(0, side - image.shape[0]), max(0, side - image.shape[1])
    if pad_y or pad_x:
        image = cv2.copyMakeBorder(image, 0, pad_y, 0, pad_x, cv2.BORDER_REFLECT_101)
        mask = np.pad(mask, ((0, pad_y), (0, pad_x)))
    height, width = mask.shape
    if mask.any():
        ys, xs = np.nonzero(mask)
        cy, cx = int(ys.mean()), int(xs.mean())
        y = int(np.clip(cy - rng.integers(side // 4, 3 * side // 4 + 1), 0, height - side))
        x = int(np.clip(cx - rng.integers(side // 4, 3 * side // 4 + 1), 0, width - side))
    else:
        y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    return image[y:y + side, x:x + side], mask[y:y + side, x:x + side]


def to_item(image: np.ndarray, mask: np.ndarray, index: int) -> TrainingItem:
    label = float(mask.sum() >= MIN_TAMPERED_PIXELS)
    return TrainingItem(
        image=torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0),
        mask=torch.from_numpy((mask if label else np.zeros_like(mask)).astype(np.float32))[None],
        label=label,
        index=index,
    )


def forge_item(index: int, config: ForgeConfig, photos: PhotoSet, crop: int) -> TrainingItem | None:
    """Stream sample `index` as a training crop; None when every draw of the sample failed."""
    sample = make_sample(index, kind_of(index, config), config, photos)
    if not sample.ok:
        return None
    rng = np.random.default_rng([config.seed, index, 2])
    image, mask = training_crop(sample.image, sample.mask, crop, rng)
    return to_item(image, mask, index)


class ForgeStream(IterableDataset):
    """Samples start, start+1, … (`count` of them, or endless); worker w of W makes the samples
    with index ≡ w (mod W), and the DataLoader interleaves them back into index order."""

    def __init__(self, config: ForgeConfig, photos: PhotoSet, crop: int, start: int = 0,
                 count: int | None = None) -> None:
        self.config, self.photos, self.crop = config, photos, crop
        self.start, self.count = start, count

    def __iter__(self) -> Iterator[TrainingItem]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        if info is not None:
            cv2.setNumThreads(1)
            torch.set_num_threads(1)
        stop = None if self.count is None else self.start + self.count
        index = self.start + worker
        while stop is None or index < stop:
            item = forge_item(index, self.config, self.photos, self.crop)
            if item is not None:
                yield item
            index += workers


def collate(items: list[TrainingItem]) -> dict[str, torch.Tensor]:
    return {
        "images": torch.stack([i.image for i in items]),
        "masks": torch.stack([i.mask for i in items]),
        "labels": torch.tensor([i.label for i in items]),
        "indices": torch.tensor([i.index for i in items]),
    }


@dataclass(frozen=True)
class ForgeSource:
    """On-the-fly training data, in place of a dataset folder: forge samples made from photo
    folders inside the run. A seeded tenth of the photos (by name) is held out: the validation
    samples — on which thresholds and score calibration are fitted — come only from those."""

    photo_dirs: tuple[Path, ...]
    config: ForgeConfig = field(default_factory=ForgeConfig)
    samples_per_epoch: int = 4000
    validation_samples: int = 400
    held_out_photos: float = 0.1
    workers: int = 1

    @property
    def root(self) -> Path:
        return self.photo_dirs[0]

    @functools.cached_property
    def photo_sets(self) -> tuple[PhotoSet, PhotoSet]:
        """(training photos, held-out photos)."""
        photos = scan_photo_folders(self.photo_dirs, self.config.min_photo_side)
        return photos.split(self.held_out_photos, self.config.seed)

    def loader(self, crop: int, batch_size: int, start: int, count: int) -> DataLoader:
        """Batches of samples start … start+count−1 (training photos), made by `workers` processes."""
        stream = ForgeStream(self.config, self.photo_sets[0], crop, start=start, count=count)
        return DataLoader(stream, batch_size=batch_size, num_workers=self.workers, collate_fn=collate,
                          multiprocessing_context="spawn" if self.workers else None,
                          persistent_workers=False)

    def validation_items(self, crop: int) -> list[TrainingItem]:
        """The fixed validation samples (held-out photos, another seed), made once per call."""
        config = dataclasses.replace(self.config, seed=self.config.seed + VALIDATION_SEED_OFFSET)
        items = (forge_item(i, config, self.photo_sets[1], crop) for i in range(self.validation_samples))
        return [item for item in items if item is not None]

    def describe(self) -> dict:
        return {"photo_dirs": [str(p) for p in self.photo_dirs], "forge": self.config.to_dict(),
                "samples_per_epoch": self.samples_per_epoch, "validation_samples": self.validation_samples,
                "held_out_photos": self.held_out_photos}
