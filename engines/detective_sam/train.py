"""Training Detective SAM's adapters on a forgery dataset, from cached frozen-encoder features.

The encoder never changes during training, so its features for the three streams are computed
once per (dataset, configuration) and cached (`engines.feature_cache`); each epoch then runs only
the adapters, the mask adapter and the frozen decoder. The noise stream's noise is drawn once per
sample when the cache is built (seeded), so it is fixed across epochs. Loss: SAM2's Dice + focal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engines.checkpoints import save_weights
from engines.datasets import ForgeryDataset
from engines.detective_sam.build import CONFIG_METADATA_KEY, build_detective_sam
from engines.detective_sam.config import DetectiveSAMConfig
from engines.detective_sam.model import DetectiveSAM
from engines.feature_cache import FeatureCache, cache_key, dataset_fingerprint
from engines.losses import sam2_loss
from engines.metrics import pixel_scores
from engines.settings import get_settings
from engines.store import get_store
from engines.tensors import mask_to_square, to_square_input

MASKS = "target_mask"


def build_cache(model: DetectiveSAM, dataset: ForgeryDataset, seed: int,
                progress: Callable[[int, int], None] | None = None) -> FeatureCache:
    config = model.config
    files = [s.image for s in dataset] + [s.mask for s in dataset if s.mask is not None]
    key = cache_key("detective_sam", config.to_json(), dataset_fingerprint(files), seed)
    folder = get_settings().cache_dir / "features" / "detective_sam" / key
    size = config.input_size

    def encode(indices: list[int]) -> dict[str, np.ndarray]:
        images, masks = [], []
        for index in indices:
            image, mask = dataset.load(index)
            images.append(to_square_input(image.rgb, size))
            square = mask_to_square(mask, size) if mask is not None else np.zeros((size, size), bool)
            masks.append(square[None])
        generator = torch.Generator().manual_seed(seed * 1_000_003 + indices[0])
        with torch.inference_mode():
            features = model.encode_streams(torch.cat(images), generator)
        out = {name: value.numpy() for name, value in features.items()}
        out[MASKS] = np.stack(masks).astype(np.float16)
        return out

    return FeatureCache.build(folder, len(dataset), encode, progress=progress,
                              meta={"dataset": str(dataset.root), "config": config.to_json()})


class DetectiveSAMTrainer:
    """Implements `engines.training.Trainer` on a feature cache, with a held-out split."""

    def __init__(self, model: DetectiveSAM, cache: FeatureCache, batch_size: int = 8,
                 validation_fraction: float = 0.1, seed: int = 0) -> None:
        self.model = model
        self.cache = cache
        self.batch_size = batch_size
        order = np.random.default_rng(seed).permutation(len(cache))
        n_val = int(round(len(cache) * validation_fraction))
        self.validation_indices = sorted(order[:n_val].tolist())
        self.train_indices = np.asarray(sorted(order[n_val:].tolist()))

    def trainable_module(self) -> DetectiveSAM:
        return self.model

    def batches(self, epoch: int, generator: torch.Generator):
        shuffled = self.train_indices[torch.randperm(len(self.train_indices), generator=generator).numpy()]
        return [shuffled[i:i + self.batch_size].tolist() for i in range(0, len(shuffled), self.batch_size)]

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        tensors = self.cache.batch(batch)
        target = tensors.pop(MASKS)
        return sam2_loss(self.model.forward_from_features(tensors), target)

    def validate(self) -> dict[str, float]:
        """Mean pixel F1 / IoU at 0.5 over the held-out tampered samples."""
        f1s, ious = [], []
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(self.validation_indices), self.batch_size):
                tensors = self.cache.batch(self.validation_indices[start:start + self.batch_size])
                target = tensors.pop(MASKS).numpy() > 0.5
                probabilities = torch.sigmoid(self.model.forward_from_features(tensors)).numpy()
                for prob, gt in zip(probabilities[:, 0], target[:, 0], strict=True):
                    if gt.any():
                        scores = pixel_scores(prob, gt)
                        f1s.append(scores["f1"])
                        ious.append(scores["iou"])
        self.model.train()
        return {"val_f1": float(np.mean(f1s)) if f1s else float("nan"),
                "val_iou": float(np.mean(ious)) if ious else float("nan")}

    def export(self, path: Path) -> None:
        """The trained adapters only, fp16, with the configuration in the file's metadata."""
        save_weights(self.model.trainable_state_dict(), path,
                     metadata={CONFIG_METADATA_KEY: self.model.config.to_json()}, half=True)


def make_trainer(config: DetectiveSAMConfig, dataset: ForgeryDataset, init_weights: Path | None,
                 batch_size: int, seed: int,
                 progress: Callable[[int, int], None] | None = None) -> DetectiveSAMTrainer:
    backbone = get_store().path("lite_medsam") if config.backbone == "lite_medsam" else None
    model = build_detective_sam(config, checkpoint=init_weights, backbone_checkpoint=backbone)
    cache = build_cache(model, dataset, seed, progress)
    return DetectiveSAMTrainer(model.train(), cache, batch_size=batch_size, seed=seed)
