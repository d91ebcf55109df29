"""Training CLUE's trainable parts on a forgery dataset, from cached frozen-backbone outputs.

The autoencoder and the SAM encoder's LoRA-free prefix never change, so their outputs (the latent
z and the prefix features) are computed once per (dataset, frozen configuration) and cached
(`engines.training.feature_cache`). The noise settings are not part of the cache key: runs that differ only
in shift or noise (the ablation) share one cache. Each step draws fresh noise ε from a generator
seeded by the step's batch, so training sees many noise draws while staying reproducible. Loss:
BCE + Dice (`engines.clue.model.clue_loss`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engines.training.cached import MASKS, CachedSegmentationTrainer
from engines.clue.build import build_clue, export_weights
from engines.clue.config import CLUEConfig
from engines.clue.model import CLUE, CLUEOutput, clue_loss
from engines.data.datasets import ForgeryDataset
from engines.training.feature_cache import FeatureCache, cache_key, dataset_fingerprint, feature_folder
from engines.data.tensors import mask_to_square, to_square_input, top_fraction_mean


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
    folder = feature_folder("clue", cache_key("clue", frozen_signature(config), dataset_fingerprint(dataset)))
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


class CLUETrainer(CachedSegmentationTrainer):
    """CLUE's map and its diagnostic probes (each branch, each noise level) are all validated."""

    model: CLUE

    def forward(self, tensors: dict[str, torch.Tensor], generator: torch.Generator) -> CLUEOutput:
        return self.model.forward_from_encoded(tensors, generator)

    def loss_fn(self, output: CLUEOutput, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return clue_loss(output, target)

    def validation_maps(self, output: CLUEOutput) -> dict[str, torch.Tensor]:
        return {"val": output.logits, **{f"val_{name}": logits for name, logits in output.evidence.items()}}

    def export(self, path: Path) -> None:
        export_weights(self.model, path, self.fit_calibration(top_fraction_mean))


def make_trainer(config: CLUEConfig, dataset: ForgeryDataset, init_weights: Path | None, batch_size: int,
                 seed: int, progress: Callable[[int, int], None] | None = None) -> CLUETrainer:
    torch.manual_seed(seed)
    model = build_clue(config, checkpoint=init_weights)
    cache = build_cache(model, dataset, progress)
    return CLUETrainer(model.train(), cache, batch_size=batch_size, seed=seed)
