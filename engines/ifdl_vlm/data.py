"""Training data for IFDL-VLM: the three classes, the forge metadata, and fully synthetic images.

Forge datasets have tampered and authentic images only. Class 1 ("fully synthetic") samples are
made by `add_fully_synthetic`: a whole real photo passed through the TAEF2 autoencoder round trip
(encode + decode), i.e. an image every pixel of which was regenerated. For cost on a 2-core CPU
the round trip runs at 256×256 and the result is resized back to the photo's size (bicubic).
The derived dataset lists them as authentic images in a `fully_synthetic/` folder (that folder
name is what marks class 1), with a metadata record of edit type `fully_synthetic`; the photos
they were made from are left out, so no photo appears in two classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from engines.data.datasets import ForgeryDataset, Sample, open_dataset
from engines.errors import DatasetError
from engines.ifdl_vlm.teacher import FULLY_SYNTHETIC_EDIT

SYNTHETIC_FOLDER = "fully_synthetic"
ROUND_TRIP_SIZE = 256


def sample_class(sample: Sample) -> int:
    """0 real, 1 fully synthetic (image in a `fully_synthetic/` folder), 2 tampered."""
    if sample.tampered:
        return 2
    return 1 if sample.image.parent.name == SYNTHETIC_FOLDER else 0


def sample_meta(sample: Sample) -> dict[str, Any]:
    """The forge metadata record `<dataset>/meta/<stem>.json` of a sample."""
    path = sample.image.parent.parent / "meta" / f"{sample.image.stem}.json"
    if not path.is_file():
        raise DatasetError(
            f"No metadata {path} for {sample.image}: the explainer is trained on datasets made by "
            "`python -m engines forge` (their meta/ folder describes each edit)."
        )
    return json.loads(path.read_text())


def regenerate_whole_image(rgb: np.ndarray, autoencoder: torch.nn.Module) -> np.ndarray:
    """A TAEF2 round trip of the whole image (at ROUND_TRIP_SIZE², then back to its size)."""
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (ROUND_TRIP_SIZE, ROUND_TRIP_SIZE), interpolation=cv2.INTER_AREA)
    tensor = torch.from_numpy(small).permute(2, 0, 1).float().div(255.0)[None]
    with torch.inference_mode():
        decoded = autoencoder.decode(autoencoder.encode(tensor))[0]
    out = (decoded.permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
    return cv2.resize(out, (width, height), interpolation=cv2.INTER_CUBIC)


def add_fully_synthetic(source: Path, out_dir: Path, every: int = 2, limit: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> ForgeryDataset:
    """Write `out_dir/index.json`: `source`'s samples (the balanced subset of `limit`, see
    `ForgeryDataset.subset`), with every `every`-th authentic photo replaced by its regenerated
    version (see the module docstring)."""
    from engines.backbones.taef2 import load_taef2
    from engines.data.imageio import load_image

    dataset = open_dataset(source).subset(limit)
    autoencoder = load_taef2()
    (out_dir / SYNTHETIC_FOLDER).mkdir(parents=True, exist_ok=True)
    (out_dir / "meta").mkdir(exist_ok=True)
    entries, done = [], 0
    chosen = set(dataset.authentic.samples[every - 1::every])
    for sample in dataset:
        if sample in chosen:
            target = out_dir / SYNTHETIC_FOLDER / f"{sample.image.stem}.png"
            if not target.is_file():
                rgb = regenerate_whole_image(load_image(sample.image).rgb, autoencoder)
                cv2.imwrite(str(target), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            meta = {"stem": sample.image.stem, "edit_type": FULLY_SYNTHETIC_EDIT, "tampered": False,
                    "sources": [str(sample.image)], "region": None,
                    "params": {"round_trip": "taef2", "round_trip_size": ROUND_TRIP_SIZE}}
            (out_dir / "meta" / f"{sample.image.stem}.json").write_text(json.dumps(meta, indent=1))
            entries.append([str(target), "Negative"])
            done += 1
            if progress is not None:
                progress(done, len(chosen))
        else:
            entries.append([str(sample.image), str(sample.mask) if sample.mask else "Negative"])
    (out_dir / "index.json").write_text(json.dumps(entries))
    return open_dataset(out_dir, extra_roots=[dataset.root])


