"""The part of training that is the same for every engine trained on cached frozen features.

A subclass says how cached tensors become mask logits (`logits`), which loss to use (`loss_fn`)
and what to ship (`export`); the held-out split, the shuffled batches and the validation pass
live here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch

from engines.datasets import ForgeryDataset
from engines.feature_cache import FeatureCache
from engines.metrics import pixel_scores
from engines.tensors import mask_to_square, to_square_input

MASKS = "target_mask"
"""Cache key of the square training masks."""


def load_square_sample(dataset: ForgeryDataset, index: int, size: int) -> tuple[torch.Tensor, np.ndarray]:
    """One sample as a 1×3×size×size input in [0, 1] and a 1×size×size bool mask (empty if authentic)."""
    image, mask = dataset.load(index)
    square = mask_to_square(mask, size) if mask is not None else np.zeros((size, size), bool)
    return to_square_input(image.rgb, size), square[None]


class CachedSegmentationTrainer(ABC):
    """Implements `engines.training.Trainer` on a feature cache, with a held-out split."""

    def __init__(self, model: torch.nn.Module, cache: FeatureCache, batch_size: int = 8,
                 validation_fraction: float = 0.1, seed: int = 0) -> None:
        self.model = model
        self.cache = cache
        self.batch_size = batch_size
        order = np.random.default_rng(seed).permutation(len(cache))
        n_val = int(round(len(cache) * validation_fraction))
        self.validation_indices = sorted(order[:n_val].tolist())
        self.train_indices = np.asarray(sorted(order[n_val:].tolist()))

    @abstractmethod
    def logits(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """B×1×S×S mask logits from a batch of cached tensors (without the masks)."""

    @abstractmethod
    def loss_fn(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]: ...

    @abstractmethod
    def export(self, path: Path) -> None: ...

    def trainable_module(self) -> torch.nn.Module:
        return self.model

    def batches(self, epoch: int, generator: torch.Generator) -> list[list[int]]:
        shuffled = self.train_indices[torch.randperm(len(self.train_indices), generator=generator).numpy()]
        return [shuffled[i:i + self.batch_size].tolist() for i in range(0, len(shuffled), self.batch_size)]

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        tensors = self.cache.batch(batch)
        target = tensors.pop(MASKS)
        return self.loss_fn(self.logits(tensors), target)

    def validate(self) -> dict[str, float]:
        """Mean pixel F1 / IoU at 0.5 over the held-out tampered samples."""
        f1s, ious = [], []
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(self.validation_indices), self.batch_size):
                tensors = self.cache.batch(self.validation_indices[start:start + self.batch_size])
                target = tensors.pop(MASKS).numpy() > 0.5
                probabilities = torch.sigmoid(self.logits(tensors)).numpy()
                for prob, gt in zip(probabilities[:, 0], target[:, 0], strict=True):
                    if gt.any():
                        scores = pixel_scores(prob, gt)
                        f1s.append(scores["f1"])
                        ious.append(scores["iou"])
        self.model.train()
        return {"val_f1": float(np.mean(f1s)) if f1s else float("nan"),
                "val_iou": float(np.mean(ious)) if ious else float("nan")}
