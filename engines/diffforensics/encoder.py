"""DiffForensics encoders: features at strides 4, 8, 16 and 32 from an image in [−1, 1].

The model works in the diffusion convention (x in [−1, 1]); each encoder converts to the input
scale its pretrained weights expect. Both keep their normalisation layers' statistics fixed in
training: EfficientNet-Lite's batch norms stay in eval mode (CPU batches of a few images would
give noisy batch statistics), SegFormer uses layer norms only.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from engines.backbones.imagenet import IMAGENET_MEAN, IMAGENET_STD
from engines.diffforensics.config import DiffForensicsConfig, SegformerSpec
from engines.backbones.efficientnet_lite import PYRAMID_STAGES, EfficientNetLite, load_efficientnet_lite
from engines.errors import WeightsError
from engines.store.model_store import load_state_dict


class EfficientNetLiteEncoder(nn.Module):
    """The `PYRAMID_STAGES` outputs of an EfficientNet-Lite variant (Lite0: 24, 40, 112, 320
    channels at strides 4, 8, 16, 32; Lite2: 24, 48, 120, 352)."""

    def __init__(self, variant: str) -> None:
        super().__init__()
        self.backbone = EfficientNetLite(variant, features_only=True)

    def load_pretrained(self, path: Path) -> None:
        load_efficientnet_lite(self.backbone, load_state_dict(path), str(path))

    def train(self, mode: bool = True) -> EfficientNetLiteEncoder:
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        stages = self.backbone.forward_stages(EfficientNetLite.normalise((x + 1.0) / 2.0))
        return [stages[i] for i in PYRAMID_STAGES]


def segformer_config(spec: SegformerSpec):
    from transformers import SegformerConfig

    return SegformerConfig(
        depths=list(spec.depths),
        hidden_sizes=list(spec.hidden_sizes),
        num_attention_heads=list(spec.num_attention_heads),
        sr_ratios=list(spec.sr_ratios),
        mlp_ratios=list(spec.mlp_ratios),
        drop_path_rate=spec.drop_path_rate,
    )


class SegformerEncoder(nn.Module):
    """`transformers` SegformerModel (the paper's encoder); its four stage outputs."""

    def __init__(self, spec: SegformerSpec, folder: Path | None = None) -> None:
        super().__init__()
        from transformers import SegformerModel

        if folder is None:
            self.model = SegformerModel(segformer_config(spec))
        else:
            self.model = SegformerModel.from_pretrained(str(folder))
            actual = tuple(self.model.config.hidden_sizes)
            if actual != spec.hidden_sizes or tuple(self.model.config.depths) != spec.depths:
                raise WeightsError(
                    f"The SegFormer in {folder} has widths {actual} and depths "
                    f"{tuple(self.model.config.depths)}; this profile expects {spec.hidden_sizes} "
                    f"and {spec.depths} (SegFormer-B2, e.g. nvidia/segformer-b2-finetuned-ade-512-512)."
                )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        normalised = ((x + 1.0) / 2.0 - self.mean) / self.std
        return list(self.model(normalised, output_hidden_states=True).hidden_states)


def build_encoder(config: DiffForensicsConfig, weights: Path | None) -> nn.Module:
    """The profile's encoder, from the pretrained file/folder `weights` (None: random)."""
    if config.encoder == "segformer":
        return SegformerEncoder(config.segformer, weights)
    encoder = EfficientNetLiteEncoder(config.encoder)
    if weights is not None:
        encoder.load_pretrained(weights)
    return encoder
