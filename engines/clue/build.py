"""Builders for CLUE (after segment-anything's `build_sam.py`): backbones, then the trained parts.

`build_clue(config, checkpoint=None, pretrained=True)`:
- `config`: a `CLUEConfig` or a profile name ("full", "compact");
- `pretrained`: load the frozen backbones from the model store — compact: `taef2_encoder` and
  `lite_medsam`'s `image_encoder.*`; full: `sd3_medium` (a diffusers folder: `vae/`,
  `transformer/`, text encoders optional, see `engines.clue.empty_prompt`) and `sam_vit_b`'s
  `image_encoder.*`. Without it every part is randomly initialised (tests, shape checks);
- `checkpoint`: CLUE's trained parts (a file written by `export_weights`), loaded strictly.
`build_clue_skeleton(config)` builds the same model on the meta device (no memory, no weights),
to check full-size structure and parameter counts anywhere.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from diffusers import AutoencoderKL, SD3Transformer2DModel
from torch import nn

from engines.backbones.taef2 import ENCODER_WEIGHT, build_encoder
from engines.backbones.tiny_vit import TinyViT, TinyViTConfig
from engines.store.trained_weights import load_trainable, read_trained_config, write_trained_weights
from engines.training.calibration import Calibration
from engines.clue.config import CLUEConfig, get_config
from engines.clue.empty_prompt import PROMPT_TOKENS, empty_prompt_embeddings
from engines.clue.latent_branch import LatentBranch, TextCondition, add_transformer_lora
from engines.clue.model import CLUE
from engines.clue.sam_branch import sam_branch
from engines.errors import WeightsError
from engines.store.model_store import get_store, load_state_dict

SD3_WEIGHTS = "sd3_medium"
SAM_WEIGHTS = {"sam_vit_b": "sam_vit_b", "lite_medsam": "lite_medsam"}


def build_clue(config: CLUEConfig | str = "compact", checkpoint: Path | str | None = None,
               pretrained: bool = True) -> CLUE:
    """A CLUE in eval mode, on the CPU."""
    if isinstance(config, str):
        config = get_config(config)
    latent = _latent_branch(config, pretrained)
    sam = sam_branch(config.sam, _sam_encoder(config, pretrained))
    model = CLUE(config, latent, sam)
    if checkpoint is not None:
        load_clue_weights(model, Path(checkpoint))
    return model.eval()


def build_clue_skeleton(config: CLUEConfig | str = "full") -> CLUE:
    """The model with every tensor on the meta device (accelerate's `init_empty_weights`)."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return build_clue(config, pretrained=False)


def backbone_weights(config: CLUEConfig) -> tuple[str, str]:
    """Store names of the frozen backbones a configuration loads."""
    latent = SD3_WEIGHTS if config.latent.autoencoder == "sd3_vae" else ENCODER_WEIGHT
    return latent, SAM_WEIGHTS[config.sam.encoder]


def _latent_branch(config: CLUEConfig, pretrained: bool) -> LatentBranch:
    settings = config.latent
    if settings.autoencoder == "sd3_vae":
        if pretrained:
            folder = get_store().path(SD3_WEIGHTS)
            vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
            transformer = SD3Transformer2DModel.from_pretrained(folder, subfolder="transformer")
            hidden, pooled = empty_prompt_embeddings(folder)
        else:
            vae = AutoencoderKL(**settings.vae)
            transformer = SD3Transformer2DModel(**settings.transformer)
            hidden = torch.zeros(1, PROMPT_TOKENS, settings.transformer["joint_attention_dim"])
            pooled = torch.zeros(1, settings.transformer["pooled_projection_dim"])
        vae.decoder = None  # only the encoder is used: frees about 50M parameters
        text = TextCondition(hidden, pooled, learned=False)
        autoencoder: nn.Module = vae
    else:
        autoencoder = build_encoder()
        if pretrained:
            autoencoder.load_state_dict(load_state_dict(get_store().path(ENCODER_WEIGHT)), strict=True)
        transformer = SD3Transformer2DModel(**settings.transformer)
        text = TextCondition.null_token(settings)
    if settings.lora_rank is not None:
        add_transformer_lora(transformer, settings.lora_rank, settings.lora_alpha)
    return LatentBranch(settings, autoencoder, transformer, text)


def _sam_encoder(config: CLUEConfig, pretrained: bool) -> nn.Module:
    settings = config.sam
    if settings.encoder == "sam_vit_b":
        from segment_anything.modeling import ImageEncoderViT

        encoder: nn.Module = ImageEncoderViT(**settings.vit, norm_layer=partial(nn.LayerNorm, eps=1e-6))
    else:
        encoder = TinyViT(TinyViTConfig(image_size=settings.input_size, **settings.tiny_vit))
    if pretrained:
        weights = load_state_dict(get_store().path(SAM_WEIGHTS[settings.encoder]))
        prefix = "image_encoder."
        encoder_state = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        try:
            encoder.load_state_dict(encoder_state, strict=True)
        except RuntimeError as err:
            raise WeightsError(f"The {settings.encoder} checkpoint does not fit its image encoder: {err}") from err
    return encoder


def export_weights(model: CLUE, path: Path, calibration: Calibration | None = None) -> None:
    """The trained parts only, fp16, with the configuration and the calibration fitted on the
    validation split in the file's metadata."""
    write_trained_weights(path, "clue", model.trainable_state_dict(), model.config, calibration)


def load_clue_weights(model: CLUE, path: Path) -> None:
    """Strict load of the trained parts; refuses weights trained for another configuration."""
    trained = read_trained_config(path, "clue", CLUEConfig)
    if trained is not None and trained != model.config:
        raise WeightsError(
            f"{path} was trained for a different CLUE configuration (profile {trained.profile!r}); "
            "build the model with the configuration stored in the file "
            "(`engines.store.trained_weights.read_trained_config`) or use weights trained for this one."
        )
    load_trainable(model, path)
