"""Builders for Detective SAM, one per backbone (after segment-anything's `build_sam.py`).

`build_detective_sam(config, checkpoint=None, backbone_checkpoint=None)`:
- `config`: a `DetectiveSAMConfig` or a profile name ("full", "compact");
- `checkpoint`: a Detective SAM state dict (safetensors, or .pth raw or under "model"), loaded
  strictly: either every key (the released checkpoints, `import_official` output) or only the
  adapters' keys (`DetectiveSAM.trainable_state_dict`), in which case the frozen parts come from
  `backbone_checkpoint`;
- `backbone_checkpoint`: the pretrained SAM weights the adapters were trained on
  (full: `sam2.1_hiera_base_plus.pt`; compact: `lite_medsam.pth`).
Without weights every part is randomly initialised (for tests and shape checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from engines.backbones.lite_medsam import build_lite_medsam
from engines.detective_sam.config import DetectiveSAMConfig, get_config
from engines.detective_sam.model import (
    TRAINABLE_PREFIXES,
    DetectiveLiteMedSAM,
    DetectiveSAM,
    DetectiveSAM2,
)
from engines.store.trained_weights import state_dict_problems
from engines.errors import WeightsError
from engines.store.model_store import load_state_dict

def build_detective_sam(
    config: DetectiveSAMConfig | str = "full",
    checkpoint: Path | str | None = None,
    backbone_checkpoint: Path | str | None = None,
) -> DetectiveSAM:
    """A Detective SAM in eval mode, on the CPU."""
    if isinstance(config, str):
        config = get_config(config)
    if config.backbone == "sam2":
        model: DetectiveSAM = _build_on_sam2(config, backbone_checkpoint)
    else:
        model = _build_on_lite_medsam(config, backbone_checkpoint)
    _check_scale_channels(model)
    if checkpoint is not None:
        load_detective_sam_weights(
            model, read_state_dict(checkpoint), str(checkpoint), allow_adapters_only=True
        )
    return model.eval()


def _build_on_sam2(
    config: DetectiveSAMConfig, backbone_checkpoint: Path | str | None
) -> DetectiveSAM2:
    # The default post-processing overrides of build_sam2 are kept on purpose: the authors'
    # inference builds SAM2 the same way, so its decoder falls back to the best multimask output
    # when the single mask is unstable (eval mode only).
    from sam2.build_sam import build_sam2

    try:
        sam = build_sam2(
            config.sam2_config_file,
            ckpt_path=None if backbone_checkpoint is None else str(backbone_checkpoint),
            device="cpu",
            mode="eval",
            hydra_overrides_extra=[f"++model.image_size={config.input_size}"],
        )
    except (RuntimeError, KeyError) as err:
        raise WeightsError(
            f"{backbone_checkpoint} is not a SAM2 checkpoint for {config.sam2_config_file} "
            f"(expected the official .pt with a 'model' entry). Detail: {err}"
        ) from err
    return DetectiveSAM2(
        config, sam.image_encoder, sam.sam_prompt_encoder, sam.sam_mask_decoder, sam.no_mem_embed
    )


def _build_on_lite_medsam(
    config: DetectiveSAMConfig, backbone_checkpoint: Path | str | None
) -> DetectiveLiteMedSAM:
    if config.lite_medsam.encoder.image_size != config.input_size:
        raise WeightsError(
            f"Compact Detective SAM input {config.input_size} px does not match its LiteMedSAM "
            f"encoder's {config.lite_medsam.encoder.image_size} px."
        )
    checkpoint = None if backbone_checkpoint is None else Path(backbone_checkpoint)
    lite = build_lite_medsam(checkpoint, config.lite_medsam)
    return DetectiveLiteMedSAM(config, lite.image_encoder, lite.prompt_encoder, lite.mask_decoder)


def _check_scale_channels(model: DetectiveSAM) -> None:
    config = model.config
    if isinstance(model, DetectiveSAM2):
        actual = (
            model.no_mem_embed.shape[-1],
            model.decoder.conv_s0.out_channels,
            model.decoder.conv_s1.out_channels,
        )
    else:
        info = model.encoder.feature_info()
        actual = tuple(info[name][0] for name in config.tiny_vit_scales)
    if tuple(actual) != tuple(config.scale_channels):
        raise WeightsError(
            f"Detective SAM profile {config.profile!r} declares scale channels "
            f"{config.scale_channels}, but its backbone gives {tuple(actual)}."
        )


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """A flat state dict from safetensors or a .pth file (raw or under a "model" entry)."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        try:
            return load_state_dict(path, unwrap="model")
        except WeightsError:
            pass
    return load_state_dict(path)


def load_detective_sam_weights(
    model: DetectiveSAM,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    allow_adapters_only: bool = False,
) -> None:
    """Strict load with a message that names missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    given = set(state_dict)
    required = set(expected)
    if allow_adapters_only and not any(not k.startswith(TRAINABLE_PREFIXES) for k in given):
        required = {k for k in expected if k.startswith(TRAINABLE_PREFIXES)}
    problems = state_dict_problems(dict(state_dict), expected, required)
    if problems:
        raise WeightsError(
            f"{source} does not fit Detective SAM ({model.config.profile} profile): "
            + "; ".join(problems)
            + ". Use a checkpoint made for this profile (the released Detective SAM .pth with "
            "its _params.yaml for 'full', or weights this workbench trained)."
        )
    model.load_state_dict(state_dict, strict=required == set(expected))
