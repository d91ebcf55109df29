"""IFDL-VLM stage 2 training: the explainer's projector and LoRA on teacher explanations.

The visual tokens stage 2 reads are frozen (`IFDLStage1.explainer_tokens`), so each sample's
region-aware features (with its true mask, α from the config) are cached once, together with its
evidence prompt and teacher text
(`teacher.py`, from the forge metadata and the evidence measured on the true mask) in a JSON file
beside the cache. The held-out split is stage 1's (`engines.training.split`), so the explanation
evaluation runs on samples neither stage trained on. An epoch is `samples_per_epoch` shuffled
training samples (the whole set is too slow for a CPU epoch).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engines.store.trained_weights import atomic_write, read_calibration, read_trained_config
from engines.data.datasets import ForgeryDataset, open_dataset
from engines.training.feature_cache import FeatureCache, cache_key, dataset_fingerprint, feature_folder
from engines.errors import WorkbenchError
from engines.ifdl_vlm.config import CLASS_NAMES, IFDLConfig
from engines.ifdl_vlm.data import sample_class, sample_meta
from engines.training.split import held_out_split
from engines.ifdl_vlm.evidence import measure_evidence
from engines.ifdl_vlm.explainer import Explainer, load_language_model
from engines.ifdl_vlm.model import IFDLStage1
from engines.ifdl_vlm.teacher import evidence_prompt, teacher_text
from engines.ifdl_vlm.train import load_stage1
from engines.ifdl_vlm.weights import save_ifdl_weights
from engines.store.model_store import file_sha256, get_store

FEATURES = "patch_features"
VALIDATION_SAMPLES = 16
"""Held-out samples whose LM loss is reported after every epoch (the full set takes minutes)."""


def build_explainer_cache(stage1: IFDLStage1, stage1_weights: Path, dataset: ForgeryDataset,
                          progress: Callable[[int, int], None] | None = None) -> tuple[FeatureCache, list[dict]]:
    """Cached features and, per sample, {"prompt", "answer", "evidence"}."""
    config = stage1.config
    key = cache_key("ifdl_vlm_explainer", config.to_json(), file_sha256(stage1_weights),
                    dataset_fingerprint(dataset))
    folder = feature_folder("ifdl_vlm_explainer", key)
    texts_file = folder.with_name(f"{key}.texts.json")
    texts: dict[int, dict] = {}

    def encode(indices: list[int]) -> dict[str, np.ndarray]:
        features = []
        for index in indices:
            image, mask = dataset.load(index)
            sample = dataset[index]
            label = CLASS_NAMES[sample_class(sample)]
            evidence = measure_evidence(image.rgb, mask, label)
            texts[index] = {"prompt": evidence_prompt(evidence),
                            "answer": teacher_text(sample_meta(sample), evidence), "evidence": evidence}
            features.append(stage1.explainer_features(image.rgb, mask, config.explainer.alpha))
        return {FEATURES: torch.cat(features).numpy()}

    if FeatureCache.exists(folder) and not texts_file.is_file():
        raise RuntimeError(f"Explainer cache {folder} has no {texts_file.name}; delete the folder to rebuild it.")
    cache = FeatureCache.build(folder, len(dataset), encode, progress=progress, meta={"dataset": str(dataset.root)})
    if texts:
        ordered = [texts[i] for i in range(len(dataset))]
        atomic_write(texts_file, lambda tmp: Path(tmp).write_text(json.dumps(ordered)))
    return cache, json.loads(texts_file.read_text())


class ExplainerTrainer:
    """Implements `engines.training.loop.Trainer` for the explainer."""

    def __init__(self, stage1: IFDLStage1, stage1_weights: Path, explainer: Explainer, cache: FeatureCache,
                 texts: list[dict], batch_size: int, seed: int, samples_per_epoch: int | None) -> None:
        self.stage1 = stage1
        self.stage1_weights = stage1_weights
        self.explainer = explainer
        self.cache = cache
        self.texts = texts
        self.batch_size = batch_size
        self.samples_per_epoch = samples_per_epoch
        train, validation = held_out_split(len(cache), seed)
        self.train_indices = np.asarray(train)
        self.validation_indices = validation

    def trainable_module(self) -> torch.nn.Module:
        return self.explainer

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_indices[: self.samples_per_epoch]) / self.batch_size)

    def batches(self, epoch: int, generator: torch.Generator, skip: int = 0) -> list[list[int]]:
        order = self.train_indices[torch.randperm(len(self.train_indices), generator=generator).numpy()]
        order = order[: self.samples_per_epoch]
        return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)][skip:]

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        batch = sorted(batch)  # FeatureCache.batch returns rows in sorted order
        features = self.cache.batch(batch)[FEATURES]
        loss = self.explainer.loss(features, [self.texts[i]["prompt"] for i in batch],
                                   [self.texts[i]["answer"] for i in batch])
        return loss, {"lm": loss.item()}

    def validate(self) -> dict[str, float]:
        chosen = self.validation_indices[:VALIDATION_SAMPLES]
        self.explainer.eval()
        with torch.inference_mode():
            losses = [self.loss(chosen[i:i + self.batch_size])[0].item()
                      for i in range(0, len(chosen), self.batch_size)]
        self.explainer.train()
        return {"val_lm_loss": float(np.mean(losses)) if losses else float("nan")}

    def export(self, path: Path) -> None:
        """The shippable file: stage 1's trained parts and calibration plus the projector and LoRA, fp16."""
        save_ifdl_weights(path, self.stage1.config, self.stage1.trainable_state_dict(),
                          self.explainer.trainable_state_dict(), read_calibration(self.stage1_weights))


def load_explainer(config: IFDLConfig, vision_dim: int) -> Explainer:
    language_model, tokenizer = load_language_model(config.explainer, get_store().path(config.explainer.language_model))
    return Explainer(config.explainer, vision_dim, language_model, tokenizer)


def make_stage_trainer(config: IFDLConfig, data: Path, stage1_weights: Path | None, batch_size: int,
                       seed: int, samples_per_epoch: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> ExplainerTrainer:
    """`train --engine ifdl_vlm --stage explainer --data DIR --init STAGE1`: `config` is the
    profile's; stage 1 is built with the configuration its weights were trained with (`train --set`
    changes included), which the exported file then carries on."""
    if stage1_weights is None:
        raise WorkbenchError("The IFDL-VLM explainer is trained on top of stage-1 weights: pass them as the "
                             "initial weights (`--init RUN1/weights.safetensors`, or `--init shipped`).")
    dataset = open_dataset(data)
    config = read_trained_config(stage1_weights, "ifdl_vlm", IFDLConfig) or config
    stage1 = load_stage1(config, stage1_weights).eval()
    cache, texts = build_explainer_cache(stage1, stage1_weights, dataset, progress)
    explainer = load_explainer(config, stage1.explainer_dim).train()
    return ExplainerTrainer(stage1, stage1_weights, explainer, cache, texts, batch_size, seed, samples_per_epoch)
