"""One safetensors file for IFDL-VLM's trained parts: `stage1.*` and, after stage 2, `explainer.*`.

Stage 1 keys are `IFDLStage1.trainable_state_dict()` (CLIP, classifier, prompt module, mask
decoder); explainer keys are `Explainer.trainable_state_dict()` (projector, LoRA). The frozen
parts (SAM image and prompt encoders, the language model) come from the model store.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engines.store.trained_weights import load_weights, state_dict_problems, write_trained_weights
from engines.errors import WeightsError
from engines.ifdl_vlm.config import IFDLConfig
from engines.training.calibration import Calibration

STAGE1_PREFIX = "stage1."
EXPLAINER_PREFIX = "explainer."


def training_commands(profile: str = "compact") -> str:
    """How IFDL-VLM's weights are trained: stage 1, then the explainer on top of it."""
    return (f"`python -m engines train --engine ifdl_vlm --profile {profile} --data DIR --out RUN1` (stage 1), "
            f"then `python -m engines train --engine ifdl_vlm --profile {profile} --stage explainer --data DIR "
            "--init RUN1/weights.safetensors --out RUN2` (stage 2)")


def save_ifdl_weights(path: Path, config: IFDLConfig, stage1: dict[str, torch.Tensor],
                      explainer: dict[str, torch.Tensor] | None = None,
                      calibration: Calibration | None = None) -> None:
    """fp16, with the profile's configuration and stage 1's calibration in the metadata."""
    tensors = {STAGE1_PREFIX + k: v for k, v in stage1.items()}
    tensors.update({EXPLAINER_PREFIX + k: v for k, v in (explainer or {}).items()})
    write_trained_weights(path, "ifdl_vlm", tensors, config, calibration)


def split_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(stage-1 tensors, explainer tensors) without their prefixes; the latter may be empty."""
    if not Path(path).is_file():
        raise WeightsError(f"No IFDL-VLM weights at {path}. Train them with {training_commands()}.")
    tensors = load_weights(Path(path))
    stage1 = {k[len(STAGE1_PREFIX):]: v for k, v in tensors.items() if k.startswith(STAGE1_PREFIX)}
    explainer = {k[len(EXPLAINER_PREFIX):]: v for k, v in tensors.items() if k.startswith(EXPLAINER_PREFIX)}
    if not stage1:
        raise WeightsError(f"{path} holds no IFDL-VLM stage-1 weights (keys 'stage1.*'). "
                           f"Train them with {training_commands()}.")
    return stage1, explainer


def load_part(module: torch.nn.Module, trained: dict[str, torch.Tensor],
              tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load `tensors` into the trainable part `trained` (a trainable_state_dict) of `module`."""
    problems = state_dict_problems(tensors, trained, set(trained))
    if problems:
        raise WeightsError(f"{source} does not fit this IFDL-VLM model: " + "; ".join(problems)
                           + " (trained for another profile?)")
    module.load_state_dict(tensors, strict=False)
