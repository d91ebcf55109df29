"""Building DiffForensics and reading/writing its weights (after segment-anything's build_sam.py).

`build_diffforensics(config, checkpoint=None, pretrained_encoder=True)`:
- the encoder starts from its pretrained weights in the model store (compact:
  "efficientnet_lite0", full: "segformer_b2_ade"), unless `pretrained_encoder` is False (random,
  for tests) or the checkpoint holds the whole encoder state;
- `checkpoint`: a stage-2 safetensors file written by this package (encoder, decoder, edge cues
  and heads; no frozen batch-norm statistics, which come from the pretrained encoder).

Weight files carry their configuration, stage and stage-1 noise in the safetensors metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError, safe_open

from engines.calibration import Calibration, calibration_metadata
from engines.checkpoints import load_weights, save_weights, state_dict_problems
from engines.diffforensics.config import DiffForensicsConfig
from engines.diffforensics.encoder import build_encoder
from engines.diffforensics.model import STAGE_TRAINABLE, DiffForensics
from engines.errors import WeightsError
from engines.store import get_store

CONFIG_KEY = "diffforensics_config"
STAGE_KEY = "diffforensics_stage"
NOISE_KEY = "diffforensics_pretraining_noise"
"""Noise of the stage-1 run a file descends from ("none" without stage 1)."""


def build_diffforensics(config: DiffForensicsConfig, checkpoint: Path | None = None,
                        pretrained_encoder: bool = True) -> DiffForensics:
    """A DiffForensics in eval mode on the CPU, set up for stage 2 / inference."""
    encoder = build_encoder(config, None)
    if pretrained_encoder and config.encoder_weights is not None:
        saved = set(weights_metadata_and_keys(checkpoint)[1]) if checkpoint is not None else set()
        if not all(f"encoder.{k}" in saved for k in encoder.state_dict()):
            encoder = build_encoder(config, get_store().path(config.encoder_weights))
    model = DiffForensics(config, encoder).set_stage(2)
    if checkpoint is not None:
        load_diffforensics_weights(model, checkpoint, STAGE_TRAINABLE[2])
    return model.eval()


def weights_metadata_and_keys(path: Path) -> tuple[dict[str, str], list[str]]:
    if not Path(path).is_file():
        raise WeightsError(f"No DiffForensics weights file at {path}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {}), list(handle.keys())
    except SafetensorError as err:
        raise WeightsError(
            f"{path} is not a safetensors file ({err}); DiffForensics weights are the "
            "weights.safetensors files its pretrain and train commands write."
        ) from err


def save_diffforensics_weights(model: DiffForensics, path: Path, pretraining_noise: str,
                               calibration: Calibration | None = None) -> None:
    """The current stage's trained parameters, fp16, with config, stage, stage-1 noise and (stage
    2) the calibration fitted on the validation split."""
    tensors = {k: v.contiguous() for k, v in model.trainable_state_dict().items()}
    metadata = {CONFIG_KEY: model.config.to_json(), STAGE_KEY: str(model.stage), NOISE_KEY: pretraining_noise,
                **calibration_metadata(calibration)}
    save_weights(tensors, path, half=True, metadata=metadata)


def saved_config(path: Path) -> DiffForensicsConfig | None:
    """The configuration stored in a weights file (None for files that predate it)."""
    text = weights_metadata_and_keys(path)[0].get(CONFIG_KEY)
    return DiffForensicsConfig.from_json(text) if text else None


def pretraining_noise_of(path: Path) -> str:
    return weights_metadata_and_keys(path)[0].get(NOISE_KEY, "unknown")


def load_diffforensics_weights(model: DiffForensics, path: Path, required_prefixes: tuple[str, ...]) -> None:
    """Load a file written by `save_diffforensics_weights`.

    Every parameter under `required_prefixes` must be in the file; the file may hold nothing the
    model lacks, and no tensor of another shape.
    """
    metadata, _ = weights_metadata_and_keys(path)
    saved = json.loads(metadata[CONFIG_KEY]) if CONFIG_KEY in metadata else {}
    for field in ("encoder", "input_size"):
        if field in saved and saved[field] != getattr(model.config, field):
            raise WeightsError(
                f"{path} was trained for DiffForensics with {field}={saved[field]!r} (profile "
                f"{saved.get('profile')!r}); this model has {getattr(model.config, field)!r} "
                f"(profile {model.config.profile!r})."
            )
    tensors = load_weights(path)
    expected = model.state_dict()
    required = {name for name, _ in model.named_parameters() if name.startswith(required_prefixes)}
    problems = state_dict_problems(tensors, expected, required)
    if problems:
        raise WeightsError(
            f"{path} does not fit DiffForensics ({model.config.profile} profile): "
            + "; ".join(problems)
            + ". Use weights trained by this workbench for this profile (stage-1 weights from "
            "`python -m engines pretrain`, stage-2 weights from `python -m engines train`)."
        )
    model.load_state_dict(tensors, strict=False)
