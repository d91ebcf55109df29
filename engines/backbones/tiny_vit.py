"""TinyViT image encoder in LiteMedSAM's configuration (a small replacement for SAM's ViT).

TinyViT (Wu et al., 2022) as adapted by MobileSAM and then LiteMedSAM: a conv stem, one stage of
MBConv blocks, three stages of TinyViT blocks (window attention with a learned bias per relative
offset, a depthwise "local" conv, an MLP), patch merging between stages, and SAM's neck to 256
channels. Module names follow the released checkpoints so that `lite_medsam.pth` loads strictly.

LiteMedSAM differs from MobileSAM in two places: its stem is two 1×1 convs (no downsampling) and
its last patch merging has stride 1. For a 256-px input the stages therefore run at 256, 128, 64
and 64 px, and the image embedding is 256×64×64 (overall stride 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from torch import nn


@dataclass(frozen=True)
class TinyViTConfig:
    """Defaults are LiteMedSAM's encoder (TinyViT-5M widths)."""

    image_size: int = 256
    in_chans: int = 3
    embed_dims: tuple[int, ...] = (64, 128, 160, 320)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (2, 4, 5, 10)
    """Per stage; stage 0 is convolutional and ignores its entry."""
    window_sizes: tuple[int, ...] = (7, 7, 14, 7)
    """Per stage; stage 0 ignores its entry."""
    merge_strides: tuple[int, ...] = (2, 2, 1)
    """Stride of the patch merging after each stage but the last."""
    mlp_ratio: float = 4.0
    mbconv_expand_ratio: float = 4.0
    local_conv_size: int = 3
    out_chans: int = 256

    def stage_strides(self) -> tuple[int, ...]:
        """Stride of each stage's output relative to the input image."""
        return tuple(math.prod(self.merge_strides[:i]) for i in range(len(self.embed_dims)))

    @property
    def embedding_stride(self) -> int:
        return math.prod(self.merge_strides)

    @property
    def embedding_size(self) -> int:
        """Side of the square image embedding for an `image_size` input."""
        return math.ceil(self.image_size / self.embedding_stride)


class ConvBN(nn.Sequential):
    """Bias-free convolution followed by batch norm (checkpoint keys `c.*` and `bn.*`)."""

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.c = nn.Conv2d(
            in_chans, out_chans, kernel_size, stride, kernel_size // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_chans)
        nn.init.constant_(self.bn.weight, bn_weight_init)


class ConvStem(nn.Module):
    def __init__(self, in_chans: int, out_chans: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            ConvBN(in_chans, out_chans // 2), nn.GELU(), ConvBN(out_chans // 2, out_chans)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: expand 1×1, depthwise 3×3, project 1×1 (zero-initialised), add."""

    def __init__(self, chans: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(chans * expand_ratio)
        self.conv1 = ConvBN(chans, hidden)
        self.conv2 = ConvBN(hidden, hidden, kernel_size=3, groups=hidden)
        self.conv3 = ConvBN(hidden, chans, bn_weight_init=0.0)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv2(self.act(self.conv1(x))))
        return self.act(x + self.conv3(y))


class PatchMerging(nn.Module):
    """Changes width 1×1, downsamples with a strided depthwise 3×3, mixes 1×1."""

    def __init__(self, in_chans: int, out_chans: int, stride: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(in_chans, out_chans)
        self.conv2 = ConvBN(out_chans, out_chans, kernel_size=3, stride=stride, groups=out_chans)
        self.conv3 = ConvBN(out_chans, out_chans)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))


def _relative_offset_index(window_size: int) -> torch.Tensor:
    """(N, N) index of the bias for positions i, j of a window: |dy| * window_size + |dx|.

    This is the numbering LeViT/TinyViT give the offsets (order of first appearance), so the
    checkpoint's `attention_biases` columns line up.
    """
    rows = torch.arange(window_size).repeat_interleave(window_size)
    cols = torch.arange(window_size).repeat(window_size)
    dy = (rows[:, None] - rows[None, :]).abs()
    dx = (cols[:, None] - cols[None, :]).abs()
    return dy * window_size + dx


class WindowAttention(nn.Module):
    """Multi-head self-attention over the tokens of one window, plus a learned bias per head and
    per relative offset. Input and output: (windows, tokens, dim)."""

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window_size * window_size))
        self.register_buffer(
            "attention_bias_idxs", _relative_offset_index(window_size), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows, tokens, dim = x.shape
        # The checkpoint's qkv layout is per head: [q | k | v] for head 0, then head 1, ...
        qkv = self.qkv(self.norm(x)).view(windows, tokens, self.num_heads, 3 * self.head_dim)
        q, k, v = qkv.transpose(1, 2).split(self.head_dim, dim=-1)
        bias = self.attention_biases[:, self.attention_bias_idxs].to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(windows, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Window attention, depthwise local conv, MLP. Input and output: (B, C, H, W)."""

    def __init__(
        self, dim: int, num_heads: int, window_size: int, mlp_ratio: float, local_conv_size: int
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.local_conv = ConvBN(dim, dim, kernel_size=local_conv_size, groups=dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def _windowed_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention inside non-overlapping windows of (B, H, W, C) tokens.

        The map is zero-padded bottom/right to whole windows and the padding takes part in the
        attention, as in the reference implementation the weights were trained with.
        """
        batch, height, width, chans = x.shape
        size = self.window_size
        pad_bottom, pad_right = -height % size, -width % size
        x = F.pad(x, (0, 0, 0, pad_right, 0, pad_bottom))
        rows, cols = (height + pad_bottom) // size, (width + pad_right) // size
        windows = (
            x.view(batch, rows, size, cols, size, chans)
            .transpose(2, 3)
            .reshape(batch * rows * cols, size * size, chans)
        )
        out = (
            self.attn(windows)
            .view(batch, rows, cols, size, size, chans)
            .transpose(2, 3)
            .reshape(batch, rows * size, cols * size, chans)
        )
        return out[:, :height, :width]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.permute(0, 2, 3, 1)
        tokens = tokens + self._windowed_attention(tokens)
        tokens = self.local_conv(tokens.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        tokens = tokens + self.mlp(tokens)
        return tokens.permute(0, 3, 1, 2)


class Stage(nn.Module):
    """A run of blocks at one resolution, then an optional patch merging to the next stage."""

    def __init__(self, blocks: list[nn.Module], downsample: PatchMerging | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (this stage's features, input of the next stage)."""
        for block in self.blocks:
            x = block(x)
        return x, (self.downsample(x) if self.downsample is not None else x)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class TinyViT(nn.Module):
    def __init__(self, config: TinyViTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TinyViTConfig()
        dims = config.embed_dims
        self.patch_embed = ConvStem(config.in_chans, dims[0])
        stages = []
        for i, dim in enumerate(dims):
            if i == 0:
                blocks: list[nn.Module] = [
                    MBConv(dim, config.mbconv_expand_ratio) for _ in range(config.depths[i])
                ]
            else:
                blocks = [
                    TinyViTBlock(
                        dim,
                        config.num_heads[i],
                        config.window_sizes[i],
                        config.mlp_ratio,
                        config.local_conv_size,
                    )
                    for _ in range(config.depths[i])
                ]
            is_last = i == len(dims) - 1
            merge = None if is_last else PatchMerging(dim, dims[i + 1], config.merge_strides[i])
            stages.append(Stage(blocks, merge))
        self.layers = nn.ModuleList(stages)
        self.neck = nn.Sequential(
            nn.Conv2d(dims[-1], config.out_chans, kernel_size=1, bias=False),
            LayerNorm2d(config.out_chans),
            nn.Conv2d(config.out_chans, config.out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(config.out_chans),
        )
        self.apply(_init_weights)

    def feature_info(self) -> dict[str, tuple[int, int]]:
        """(channels, stride) of each entry of `forward_features`.

        LiteMedSAM: stage0 (64, 1), stage1 (128, 2), stage2 (160, 4), stage3 (320, 4),
        embed (256, 4); for a 256-px input that is 256, 128, 64, 64 and 64 px maps.
        """
        strides = self.config.stage_strides()
        info = {f"stage{i}": (dim, strides[i]) for i, dim in enumerate(self.config.embed_dims)}
        info["embed"] = (self.config.out_chans, self.config.embedding_stride)
        return info

    def forward_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Multi-scale features of (B, 3, H, W) images normalised as in `lite_medsam`.

        `stageI` is the output of stage I's blocks (before its patch merging); `embed` is the
        neck's output, the image embedding SAM's mask decoder consumes. See `feature_info`.
        """
        features: dict[str, torch.Tensor] = {}
        x = self.patch_embed(images)
        for i, stage in enumerate(self.layers):
            features[f"stage{i}"], x = stage(x)
        features["embed"] = self.neck(x)
        return features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_features(images)["embed"]
