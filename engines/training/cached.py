"""The part of training that is the same for every engine trained on cached frozen features.

A subclass says how cached tensors become the model's output (`forward`), which loss to use
(`loss_fn`), which maps to validate (`validation_maps`, default: the output itself as logits) and
what to ship (`export`); the held-out split, the shuffled and seeded batches and the validation
pass live here once.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.training.calibration import Calibration, best_pixel_threshold, fit_calibration, has_both_classes
from engines.data.datasets import ForgeryDataset
from engines.training.feature_cache import FeatureCache
from engines.evaluation.metrics import pixel_scores
from engines.data.tensors import mask_to_square, to_square_input
from engines.training.split import VALIDATION_FRACTION, held_out_split

MASKS = "target_mask"
"""Cache key of the square training masks."""


def load_square_sample(dataset: ForgeryDataset, index: int, size: int) -> tuple[torch.Tensor, np.ndarray]:
    """One sample as a 1×3×size×size input in [0, 1] and a 1×size×size bool mask (empty if authentic)."""
    image, mask = dataset.load(index)
    square = mask_to_square(mask, size) if mask is not None else np.zeros((size, size), bool)
    return to_square_input(image.rgb, size), square[None]


Batch = tuple[list[int], int]
"""Sample indices of one step and the seed of any noise the model draws in it."""

VALIDATION_NOISE_SEED = 0


def held_out_pixel_metrics(heatmaps: dict[str, list[np.ndarray]], masks: list[np.ndarray]) -> dict[str, float]:
    """Per validation map (name -> probability maps of the tampered samples, `masks` their truth),
    the mean pixel F1 at the best of the candidate thresholds (`<name>_f1`, the threshold the
    export will fit, in `<name>_threshold`) and at 0.5 (`<name>_f1_at_0.5`); and the mean IoU of
    the model's own map "val" at 0.5. A model whose logits drift below 0 would otherwise look dead
    at 0.5. Empty without tampered samples."""
    if not masks:
        return {}
    metrics: dict[str, float] = {}
    for name, maps_of_name in heatmaps.items():
        threshold, f1_by_threshold = best_pixel_threshold(maps_of_name, masks)
        metrics.update({f"{name}_f1": f1_by_threshold[threshold], f"{name}_threshold": threshold,
                        f"{name}_f1_at_0.5": f1_by_threshold[0.5]})
    metrics["val_iou"] = float(np.mean([pixel_scores(h, m)["iou"] for h, m in zip(heatmaps["val"], masks, strict=True)]))
    return metrics


class CachedSegmentationTrainer(ABC):
    """Implements `engines.training.loop.Trainer` on a feature cache, with a held-out split.

    Each step gets a fresh noise seed drawn from the epoch's generator, so a model that samples
    noise (CLUE's rectified-flow noising) sees many draws and stays reproducible on resume.
    """

    def __init__(self, model: torch.nn.Module, cache: FeatureCache, batch_size: int = 8,
                 validation_fraction: float = VALIDATION_FRACTION, seed: int = 0) -> None:
        self.model = model
        self.cache = cache
        self.batch_size = batch_size
        train, self.validation_indices = held_out_split(len(cache), seed, validation_fraction)
        self.train_indices = np.asarray(train)

    @abstractmethod
    def forward(self, tensors: dict[str, torch.Tensor], generator: torch.Generator) -> Any:
        """The model's output for a batch of cached tensors (without the masks); `generator`
        seeds any noise the model draws."""

    @abstractmethod
    def loss_fn(self, output: Any, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]: ...

    @abstractmethod
    def export(self, path: Path) -> None: ...

    def validation_maps(self, output: Any) -> dict[str, torch.Tensor]:
        """B×1×S×S logits to score on held-out data, by name; "val" is the model's own map."""
        return {"val": output}

    def trainable_module(self) -> torch.nn.Module:
        return self.model

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_indices) / self.batch_size)

    def batches(self, epoch: int, generator: torch.Generator, skip: int = 0) -> list[Batch]:
        shuffled = self.train_indices[torch.randperm(len(self.train_indices), generator=generator).numpy()]
        seeds = torch.randint(0, 2**62, (len(shuffled),), generator=generator).tolist()
        return [(shuffled[i:i + self.batch_size].tolist(), seeds[i])
                for i in range(0, len(shuffled), self.batch_size)][skip:]

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        indices, noise_seed = batch
        tensors = self.cache.batch(indices)
        target = tensors.pop(MASKS)
        return self.loss_fn(self.forward(tensors, torch.Generator().manual_seed(noise_seed)), target)

    def _validation_predictions(self):
        """(validation maps as probabilities, the true mask) of each held-out sample, batch by
        batch, with the model in eval mode and the validation noise seed."""
        self.model.eval()
        generator = torch.Generator().manual_seed(VALIDATION_NOISE_SEED)
        try:
            with torch.inference_mode():
                for start in range(0, len(self.validation_indices), self.batch_size):
                    tensors = self.cache.batch(self.validation_indices[start:start + self.batch_size])
                    target = tensors.pop(MASKS).numpy()[:, 0] > 0.5
                    maps = self.validation_maps(self.forward(tensors, generator))
                    probabilities = {name: torch.sigmoid(logits)[:, 0] for name, logits in maps.items()}
                    for index, truth in enumerate(target):
                        yield {name: values[index] for name, values in probabilities.items()}, truth
        finally:
            self.model.train()

    def validate(self) -> dict[str, float]:
        """`held_out_pixel_metrics` of the validation maps of the held-out tampered samples."""
        heatmaps: dict[str, list[np.ndarray]] = {}
        masks = []
        for maps, truth in self._validation_predictions():
            if not truth.any():
                continue
            masks.append(truth)
            for name, prob in maps.items():
                heatmaps.setdefault(name, []).append(prob.numpy())
        return held_out_pixel_metrics(heatmaps, masks)

    def fit_calibration(self, image_score: Callable[[torch.Tensor], float]) -> Calibration | None:
        """The pixel threshold and the Platt map of the engine's image score (`image_score` of
        the model's probability map, as the engine computes it), fitted on the held-out split;
        None when that split lacks authentic or tampered samples."""
        heatmaps, masks, scores, labels = [], [], [], []
        for maps, truth in self._validation_predictions():
            heatmaps.append(maps["val"].numpy())
            masks.append(truth if truth.any() else None)
            scores.append(image_score(maps["val"]))
            labels.append(bool(truth.any()))
        if not has_both_classes(labels):
            return None
        return fit_calibration(heatmaps, masks, scores, labels)
