"""Stage 2: multi-task fine-tuning of encoder and decoder on a forgery dataset.

The encoder is trained in this stage, so its features cannot be cached; what is cached
(`engines.training.feature_cache`) is the decoded dataset at the model's input size: images resized to
S × S (as at inference), masks resized by area coverage, and image labels. Each epoch shuffles the
training split and flips a random half of each batch horizontally. Loss: `losses.diffforensics_loss`
(the paper's L_seg + L_edg + L_clf with its weights); timestep embedding fixed at t_f.

Data: a dataset folder (decoded once into an input cache, a held-out split) or a
`ForgeSource` (forge v2 samples made on the fly inside the run, at their own pixel grid, with
held-out photos for validation). Export fits the calibration (`engines.training.calibration`) on the
validation samples and stores it with the weights.

Initialisation (`init_weights`): a stage-1 file (`python -m engines train --stage pretrain`: decoder and
timestep embedding), or a stage-2 file (e.g. the shipped weights, to adapt them to new data).
Without one the decoder starts from random values (the "no pretraining" ablation).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from engines.training.calibration import fit_calibration, has_both_classes
from engines.data.datasets import ForgeryDataset
from engines.diffforensics.build import (
    build_diffforensics,
    load_diffforensics_weights,
    pretraining_noise_of,
    save_diffforensics_weights,
)
from engines.diffforensics.config import DiffForensicsConfig
from engines.diffforensics.losses import diffforensics_loss
from engines.diffforensics.model import PRETRAINED_PREFIXES, TRAINING_MEMORY_FORMAT, DiffForensics
from engines.training.feature_cache import FeatureCache, cache_key, dataset_fingerprint, feature_folder
from engines.training.split import VALIDATION_FRACTION, held_out_split
from engines.forge.stream import ForgeSource, collate
from engines.evaluation.metrics import ImageMetrics, pixel_scores
from engines.data.tensors import mask_to_square, to_square_input, top_fraction_mean

IMAGES, MASKS, LABELS = "images", "masks", "tampered"


def build_input_cache(dataset: ForgeryDataset, size: int,
                      progress: Callable[[int, int], None] | None = None) -> FeatureCache:
    folder = feature_folder("diffforensics", cache_key("diffforensics_inputs", size, dataset_fingerprint(dataset)))

    def encode(indices: list[int]) -> dict[str, np.ndarray]:
        images, masks, labels = [], [], []
        for index in indices:
            image, mask = dataset.load(index)
            images.append(to_square_input(image.rgb, size)[0].numpy())
            square = mask_to_square(mask, size) if mask is not None else np.zeros((size, size), bool)
            masks.append(square[None].astype(np.float32))
            labels.append(float(dataset[index].tampered))
        return {IMAGES: np.stack(images), MASKS: np.stack(masks), LABELS: np.asarray(labels)}

    return FeatureCache.build(folder, len(dataset), encode, progress=progress,
                              meta={"dataset": str(dataset.root), "size": size})


class DiffForensicsTrainer:
    """Implements `engines.training.loop.Trainer`: the loss, validation, calibration and export shared
    by both data sources; subclasses say where batches and validation samples come from."""

    def __init__(self, model: DiffForensics, batch_size: int, pretraining_noise: str) -> None:
        self.model = model
        self.batch_size = batch_size
        self.pretraining_noise = pretraining_noise

    def trainable_module(self) -> DiffForensics:
        return self.model

    def validation_batches(self) -> Iterable[dict[str, torch.Tensor]]:
        raise NotImplementedError

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """`images`, `masks`, `labels` and `flips` (horizontal flip per sample)."""
        flip = batch["flips"].view(-1, 1, 1, 1)
        images = torch.where(flip, batch[IMAGES].flip(-1), batch[IMAGES])
        images = images.contiguous(memory_format=TRAINING_MEMORY_FORMAT)
        masks = torch.where(flip, batch[MASKS].flip(-1), batch[MASKS])
        return diffforensics_loss(self.model(images), masks, batch[LABELS], self.model.config.loss)

    def _predict_validation(self) -> tuple[list[np.ndarray], list[np.ndarray | None], list[float], list[float], list[bool]]:
        """Heatmaps, masks (None for authentic), head scores, map scores and labels."""
        heatmaps, masks, head, top, labels = [], [], [], [], []
        self.model.eval()
        with torch.inference_mode():
            for batch in self.validation_batches():
                output = self.model(batch[IMAGES])
                probabilities = torch.sigmoid(output.mask_logits)[:, 0]
                for prob, truth, score, label in zip(probabilities, batch[MASKS][:, 0].numpy() > 0.5,
                                                     torch.sigmoid(output.detection_logits).tolist(),
                                                     batch[LABELS].tolist(), strict=True):
                    heatmaps.append(prob.numpy())
                    masks.append(truth if label else None)
                    head.append(float(score))
                    top.append(top_fraction_mean(prob))
                    labels.append(bool(label))
        self.model.train()
        return heatmaps, masks, head, top, labels

    def validate(self) -> dict[str, float]:
        """Pixel F1 / IoU at 0.5 over held-out tampered images; image AUC (detection head and top
        of the map) and accuracy over all."""
        heatmaps, masks, head, top, labels = self._predict_validation()
        pixels = [pixel_scores(h, m) for h, m in zip(heatmaps, masks, strict=True) if m is not None and m.any()]
        metrics = {"val_f1": float(np.mean([p["f1"] for p in pixels])) if pixels else float("nan"),
                   "val_iou": float(np.mean([p["iou"] for p in pixels])) if pixels else float("nan")}
        for name, scores in (("", head), ("_map_top", top)):
            detection = ImageMetrics()
            for score, label in zip(scores, labels, strict=True):
                detection.add(score, label)
            result = detection.result()
            metrics[f"val_image_auc{name}"] = result["image_auc"]
            if not name:
                metrics["val_image_acc"] = result["image_acc"]
        return metrics

    def export(self, path: Path) -> None:
        """Encoder, decoder, edge cues and heads (fp16), with the config and the calibration
        fitted on the validation split: the pixel threshold, the image score (the detection head
        or the top of the map, whichever ranks the validation images better) and its Platt map."""
        heatmaps, masks, head, top, labels = self._predict_validation()
        calibration = None
        if has_both_classes(labels):
            use_head = roc_auc_score(labels, head) >= roc_auc_score(labels, top)
            self.model.config = dataclasses.replace(
                self.model.config, image_score="detection_head" if use_head else "map_top")
            calibration = fit_calibration(heatmaps, masks, head if use_head else top, labels)
        save_diffforensics_weights(self.model, path, self.pretraining_noise, calibration)


class CachedDiffForensicsTrainer(DiffForensicsTrainer):
    """On a dataset folder, decoded once into the input cache, with a held-out split."""

    def __init__(self, model: DiffForensics, cache: FeatureCache, batch_size: int = 8,
                 validation_fraction: float = VALIDATION_FRACTION, seed: int = 0, pretraining_noise: str = "none") -> None:
        super().__init__(model, batch_size, pretraining_noise)
        self.cache = cache
        train, self.validation_indices = held_out_split(len(cache), seed, validation_fraction)
        self.train_indices = np.asarray(train)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_indices) / self.batch_size)

    def plan(self, generator: torch.Generator) -> list[tuple[list[int], list[bool]]]:
        """(sorted sample indices, horizontal flip per sample) for each batch of the epoch."""
        order = torch.randperm(len(self.train_indices), generator=generator).numpy()
        shuffled = self.train_indices[order]
        flips = (torch.rand(len(shuffled), generator=generator) < 0.5).tolist()
        batches = []
        for start in range(0, len(shuffled), self.batch_size):
            pairs = sorted(zip(shuffled[start:start + self.batch_size].tolist(),
                               flips[start:start + self.batch_size], strict=True))
            batches.append(([i for i, _ in pairs], [f for _, f in pairs]))
        return batches

    def batches(self, epoch: int, generator: torch.Generator, skip: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        for indices, flips in self.plan(generator)[skip:]:
            yield {**self.cache.batch(indices), "flips": torch.tensor(flips)}

    def validation_batches(self) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, len(self.validation_indices), self.batch_size):
            yield self.cache.batch(self.validation_indices[start:start + self.batch_size])


class StreamDiffForensicsTrainer(DiffForensicsTrainer):
    """On forge samples made inside the run (`engines.forge.stream.ForgeSource`): epoch e trains
    on samples e·N … (e+1)·N − 1, so every step sees new samples and a resume continues the
    stream exactly where the checkpoint was taken."""

    def __init__(self, model: DiffForensics, source: ForgeSource, batch_size: int = 8,
                 pretraining_noise: str = "none") -> None:
        super().__init__(model, batch_size, pretraining_noise)
        self.source = source
        self.steps_per_epoch = source.samples_per_epoch // batch_size
        self._validation: list[dict[str, torch.Tensor]] | None = None

    def batches(self, epoch: int, generator: torch.Generator, skip: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        samples = self.steps_per_epoch * self.batch_size
        loader = self.source.loader(self.model.config.input_size, self.batch_size,
                                    start=epoch * samples + skip * self.batch_size,
                                    count=samples - skip * self.batch_size)
        for batch in loader:
            yield {IMAGES: batch["images"], MASKS: batch["masks"], LABELS: batch["labels"],
                   "flips": torch.rand(len(batch["labels"]), generator=generator) < 0.5}

    def validation_batches(self) -> list[dict[str, torch.Tensor]]:
        if self._validation is None:
            items = collate(self.source.validation_items(self.model.config.input_size))
            self._validation = [{IMAGES: items["images"][i:i + self.batch_size],
                                 MASKS: items["masks"][i:i + self.batch_size],
                                 LABELS: items["labels"][i:i + self.batch_size]}
                                for i in range(0, len(items["labels"]), self.batch_size)]
        return self._validation


def make_trainer(config: DiffForensicsConfig, dataset: ForgeryDataset | ForgeSource, init_weights: Path | None,
                 batch_size: int, seed: int,
                 progress: Callable[[int, int], None] | None = None) -> DiffForensicsTrainer:
    torch.manual_seed(seed)
    model = build_diffforensics(config)
    noise = "none"
    if init_weights is not None:
        load_diffforensics_weights(model, Path(init_weights), PRETRAINED_PREFIXES)
        noise = pretraining_noise_of(Path(init_weights))
    model = model.set_stage(2).train().to(memory_format=TRAINING_MEMORY_FORMAT)
    if isinstance(dataset, ForgeSource):
        return StreamDiffForensicsTrainer(model, dataset, batch_size=batch_size, pretraining_noise=noise)
    cache = build_input_cache(dataset, config.input_size, progress)
    return CachedDiffForensicsTrainer(model, cache, batch_size=batch_size, seed=seed, pretraining_noise=noise)
