"""Stage 2: multi-task fine-tuning of encoder and decoder on a forgery dataset.

The encoder is trained in this stage, so its features cannot be cached; what is cached
(`engines.feature_cache`) is the decoded dataset at the model's input size: images resized to
S × S (as at inference), masks resized by area coverage, and image labels. Each epoch shuffles the
training split and flips a random half of each batch horizontally. Loss: `losses.diffforensics_loss`
(the paper's L_seg + L_edg + L_clf with its weights); timestep embedding fixed at t_f.

Initialisation (`init_weights`): a stage-1 file (`python -m engines pretrain`: decoder and
timestep embedding), or a stage-2 file (e.g. the shipped weights, to adapt them to new data).
Without one the decoder starts from random values (the "no pretraining" ablation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engines.datasets import ForgeryDataset
from engines.diffforensics.build import (
    build_diffforensics,
    load_diffforensics_weights,
    pretraining_noise_of,
    save_diffforensics_weights,
)
from engines.diffforensics.config import DiffForensicsConfig
from engines.diffforensics.losses import diffforensics_loss
from engines.diffforensics.model import PRETRAINED_PREFIXES, TRAINING_MEMORY_FORMAT, DiffForensics
from engines.feature_cache import FeatureCache, cache_key, dataset_fingerprint
from engines.metrics import ImageMetrics, pixel_scores
from engines.settings import get_settings
from engines.tensors import mask_to_square, to_square_input

IMAGES, MASKS, LABELS = "images", "masks", "tampered"


def build_input_cache(dataset: ForgeryDataset, size: int,
                      progress: Callable[[int, int], None] | None = None) -> FeatureCache:
    files = [s.image for s in dataset] + [s.mask for s in dataset if s.mask is not None]
    key = cache_key("diffforensics_inputs", size, dataset_fingerprint(files))
    folder = get_settings().cache_dir / "features" / "diffforensics" / key

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
    """Implements `engines.training.Trainer` on the input cache, with a held-out split."""

    def __init__(self, model: DiffForensics, cache: FeatureCache, batch_size: int = 8,
                 validation_fraction: float = 0.1, seed: int = 0, pretraining_noise: str = "none") -> None:
        self.model = model
        self.cache = cache
        self.batch_size = batch_size
        self.pretraining_noise = pretraining_noise
        order = np.random.default_rng(seed).permutation(len(cache))
        n_val = int(round(len(cache) * validation_fraction))
        self.validation_indices = sorted(order[:n_val].tolist())
        self.train_indices = np.asarray(sorted(order[n_val:].tolist()))

    def trainable_module(self) -> DiffForensics:
        return self.model

    def batches(self, epoch: int, generator: torch.Generator) -> list[tuple[list[int], list[bool]]]:
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

    def loss(self, batch: tuple[list[int], list[bool]]) -> tuple[torch.Tensor, dict[str, float]]:
        indices, flips = batch
        tensors = self.cache.batch(indices)
        flip = torch.tensor(flips).view(-1, 1, 1, 1)
        images = torch.where(flip, tensors[IMAGES].flip(-1), tensors[IMAGES])
        images = images.contiguous(memory_format=TRAINING_MEMORY_FORMAT)
        masks = torch.where(flip, tensors[MASKS].flip(-1), tensors[MASKS])
        return diffforensics_loss(self.model(images), masks, tensors[LABELS], self.model.config.loss)

    def validate(self) -> dict[str, float]:
        """Pixel F1 / IoU at 0.5 over held-out tampered images; image AUC / accuracy over all."""
        f1s, ious = [], []
        detection = ImageMetrics()
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(self.validation_indices), self.batch_size):
                tensors = self.cache.batch(self.validation_indices[start:start + self.batch_size])
                output = self.model(tensors[IMAGES])
                probabilities = torch.sigmoid(output.mask_logits)[:, 0].numpy()
                scores = torch.sigmoid(output.detection_logits).numpy()
                truths = tensors[MASKS][:, 0].numpy() > 0.5
                for prob, truth, score, label in zip(probabilities, truths, scores,
                                                     tensors[LABELS].numpy(), strict=True):
                    detection.add(float(score), bool(label))
                    if label and truth.any():
                        pixel = pixel_scores(prob, truth)
                        f1s.append(pixel["f1"])
                        ious.append(pixel["iou"])
        self.model.train()
        image = detection.result()
        return {"val_f1": float(np.mean(f1s)) if f1s else float("nan"),
                "val_iou": float(np.mean(ious)) if ious else float("nan"),
                "val_image_auc": image["image_auc"], "val_image_acc": image["image_acc"]}

    def export(self, path: Path) -> None:
        """Encoder, decoder, edge cues and heads (fp16), with the config in the metadata."""
        save_diffforensics_weights(self.model, path, self.pretraining_noise)


def make_trainer(config: DiffForensicsConfig, dataset: ForgeryDataset, init_weights: Path | None,
                 batch_size: int, seed: int,
                 progress: Callable[[int, int], None] | None = None) -> DiffForensicsTrainer:
    torch.manual_seed(seed)
    model = build_diffforensics(config)
    noise = "none"
    if init_weights is not None:
        load_diffforensics_weights(model, Path(init_weights), PRETRAINED_PREFIXES)
        noise = pretraining_noise_of(Path(init_weights))
    cache = build_input_cache(dataset, config.input_size, progress)
    model = model.set_stage(2).train().to(memory_format=TRAINING_MEMORY_FORMAT)
    return DiffForensicsTrainer(model, cache, batch_size=batch_size, seed=seed, pretraining_noise=noise)
