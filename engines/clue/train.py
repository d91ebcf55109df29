"""Training CLUE's trainable parts on a forgery dataset, from cached frozen-backbone outputs.

The autoencoder and the SAM encoder's LoRA-free prefix never change, so their outputs (the latent
z and the prefix features) are computed once per (dataset, frozen configuration) and cached
(`engines.feature_cache`). The noise settings are not part of the cache key: runs that differ only
in shift or noise (the ablation) share one cache. Each step draws fresh noise ε from a generator
seeded by the step's batch, so training sees many noise draws while staying reproducible. Loss:
BCE + Dice (`engines.clue.model.clue_loss`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engines.clue.build import build_clue, export_weights
from engines.clue.config import CLUEConfig
from engines.clue.model import CLUE, clue_loss
from engines.datasets import ForgeryDataset
from engines.feature_cache import FeatureCache, cache_key, dataset_fingerprint
from engines.metrics import pixel_scores
from engines.settings import get_settings
from engines.tensors import mask_to_square, to_square_input

MASKS = "target_mask"
VALIDATION_NOISE_SEED = 0


def frozen_signature(config: CLUEConfig) -> dict[str, object]:
    """Everything that determines the cached tensors (and nothing that does not)."""
    return {"latent": [config.latent.autoencoder, config.latent.input_size, config.latent.scaling_factor,
                       config.latent.shift_factor, config.latent.vae],
            "sam": [config.sam.encoder, config.sam.input_size, config.sam.prefix_stages, config.sam.prefix_blocks,
                    config.sam.tiny_vit, config.sam.vit, config.sam.pixel_mean, config.sam.pixel_std],
            "output_size": config.output_size}


def build_cache(model: CLUE, dataset: ForgeryDataset,
                progress: Callable[[int, int], None] | None = None) -> FeatureCache:
    config = model.config
    files = [s.image for s in dataset] + [s.mask for s in dataset if s.mask is not None]
    key = cache_key("clue", frozen_signature(config), dataset_fingerprint(files))
    folder = get_settings().cache_dir / "features" / "clue" / key
    size = config.output_size

    def encode(indices: list[int]) -> dict[str, np.ndarray]:
        latent_images, sam_images, masks = [], [], []
        for index in indices:
            image, mask = dataset.load(index)
            latent_images.append(to_square_input(image.rgb, config.latent.input_size))
            sam_images.append(to_square_input(image.rgb, config.sam.input_size))
            square = mask_to_square(mask, size) if mask is not None else np.zeros((size, size), bool)
            masks.append(square[None])
        encoded = model.encode(torch.cat(latent_images), torch.cat(sam_images))
        out = {name: value.numpy() for name, value in encoded.items()}
        out[MASKS] = np.stack(masks).astype(np.float16)
        return out

    return FeatureCache.build(folder, len(dataset), encode, progress=progress,
                              meta={"dataset": str(dataset.root), "frozen": frozen_signature(config)})


class CLUETrainer:
    """Implements `engines.training.Trainer` on a feature cache, with a held-out split."""

    def __init__(self, model: CLUE, cache: FeatureCache, batch_size: int = 8,
                 validation_fraction: float = 0.1, seed: int = 0) -> None:
        self.model = model
        self.cache = cache
        self.batch_size = batch_size
        order = np.random.default_rng(seed).permutation(len(cache))
        n_val = int(round(len(cache) * validation_fraction))
        self.validation_indices = sorted(order[:n_val].tolist())
        self.train_indices = np.asarray(sorted(order[n_val:].tolist()))

    def trainable_module(self) -> CLUE:
        return self.model

    def batches(self, epoch: int, generator: torch.Generator) -> list[tuple[list[int], int]]:
        """(sample indices, noise seed) per step."""
        shuffled = self.train_indices[torch.randperm(len(self.train_indices), generator=generator).numpy()]
        seeds = torch.randint(0, 2**62, (len(shuffled),), generator=generator).tolist()
        return [(shuffled[i:i + self.batch_size].tolist(), seeds[i]) for i in range(0, len(shuffled), self.batch_size)]

    def loss(self, batch: tuple[list[int], int]) -> tuple[torch.Tensor, dict[str, float]]:
        indices, noise_seed = batch
        tensors = self.cache.batch(indices)
        target = tensors.pop(MASKS)
        output = self.model.forward_from_encoded(tensors, torch.Generator().manual_seed(noise_seed))
        return clue_loss(output, target)

    def validate(self) -> dict[str, float]:
        """Mean pixel F1 / IoU at 0.5 over the held-out tampered samples (CLUE's map and probes)."""
        scores: dict[str, list[float]] = {}
        self.model.eval()
        generator = torch.Generator().manual_seed(VALIDATION_NOISE_SEED)
        with torch.inference_mode():
            for start in range(0, len(self.validation_indices), self.batch_size):
                tensors = self.cache.batch(self.validation_indices[start:start + self.batch_size])
                target = tensors.pop(MASKS).numpy()[:, 0] > 0.5
                output = self.model.forward_from_encoded(tensors, generator)
                maps = {"val": output.logits, **{f"val_{k}": v for k, v in output.evidence.items()}}
                for name, logits in maps.items():
                    for prob, gt in zip(torch.sigmoid(logits).numpy()[:, 0], target, strict=True):
                        if gt.any():
                            result = pixel_scores(prob, gt)
                            scores.setdefault(f"{name}_f1", []).append(result["f1"])
                            if name == "val":
                                scores.setdefault("val_iou", []).append(result["iou"])
        self.model.train()
        return {name: float(np.mean(values)) for name, values in scores.items()}

    def export(self, path: Path) -> None:
        export_weights(self.model, path)


def make_trainer(config: CLUEConfig, dataset: ForgeryDataset, init_weights: Path | None, batch_size: int,
                 seed: int, progress: Callable[[int, int], None] | None = None) -> CLUETrainer:
    torch.manual_seed(seed)
    model = build_clue(config, checkpoint=init_weights)
    cache = build_cache(model, dataset, progress)
    return CLUETrainer(model.train(), cache, batch_size=batch_size, seed=seed)
