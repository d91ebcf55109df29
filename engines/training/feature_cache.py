"""Frozen-encoder outputs of a whole dataset, computed once and stored as float16 memmaps.

Engines whose encoder is frozen (Detective SAM, CLUE's compact latent branch) train only small
heads; caching what the encoder produces turns hours of CPU training into minutes. A cache is a
folder of `<key>.npy` arrays (first axis = sample) plus `meta.json`; it is built in a temporary
folder and renamed into place, so an interrupted build is never mistaken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.lib.format import open_memmap

from engines.settings import get_settings
from engines.training.stale_builds import remove_stale_builds

if TYPE_CHECKING:
    from engines.data.datasets import ForgeryDataset

META = "meta.json"


def cache_key(*parts: Any) -> str:
    """A short stable hash of everything that determines the cached values."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def dataset_fingerprint(dataset: ForgeryDataset) -> list[tuple[str, int, int]]:
    """The dataset's image and mask files with size and modification time, so an edited dataset
    gets a new cache."""
    paths = [s.image for s in dataset] + [s.mask for s in dataset if s.mask is not None]
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]


def feature_folder(kind: str, key: str) -> Path:
    """Where one cache lives: `<FORGERY_CACHE>/features/<kind>/<key>`."""
    return get_settings().cache_dir / "features" / kind / key


class FeatureCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = json.loads((folder / META).read_text())
        self.arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="r") for key in self.meta["keys"]}

    def __len__(self) -> int:
        return int(self.meta["count"])

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        order = np.asarray(sorted(indices))
        return {key: torch.from_numpy(np.asarray(array[order])).float() for key, array in self.arrays.items()}

    @classmethod
    def exists(cls, folder: Path) -> bool:
        return (folder / META).is_file()

    @classmethod
    def build(
        cls,
        folder: Path,
        count: int,
        encode: Callable[[list[int]], dict[str, np.ndarray]],
        batch_size: int = 8,
        progress: Callable[[int, int], None] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> FeatureCache:
        """Fill the cache by calling `encode(indices)` -> {key: array with a leading batch axis}."""
        if cls.exists(folder):
            return cls(folder)
        remove_stale_builds(folder.parent, f".{folder.name}.building-")
        building = folder.with_name(f".{folder.name}.building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        arrays: dict[str, np.memmap] = {}
        try:
            for start in range(0, count, batch_size):
                indices = list(range(start, min(start + batch_size, count)))
                for key, values in encode(indices).items():
                    if key not in arrays:
                        arrays[key] = open_memmap(building / f"{key}.npy", mode="w+",
                                                  dtype=np.float16, shape=(count, *values.shape[1:]))
                    arrays[key][indices[0]:indices[-1] + 1] = values
                if progress is not None:
                    progress(indices[-1] + 1, count)
            for array in arrays.values():
                array.flush()
            (building / META).write_text(json.dumps({"count": count, "keys": sorted(arrays), **(meta or {})}))
            os.replace(building, folder)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return cls(folder)
