"""The mask adapter: fuses all streams of all scales into a logit prompt for SAM's mask input.

1. Fusion (`feature_fusion`), per scale: the four streams [adapted, original, blur, noise] are
   weighed per pixel by a softmax over 4 logits (grouped 3×3 conv, one group per stream, GELU,
   1×1 conv), projected 1×1 to `hidden` channels and resized to the base grid; the scales are
   concatenated and projected 1×1 back to `hidden`.
2. Coarse path (`coarse_processor`): a depthwise k×k stride-k conv down to the coarse grid, a small
   TransformerEncoder over its cells (with a 1×1-conv embedding of a [-1, 1] coordinate grid),
   mixed with its own input by a sigmoid residual gate.
3. Fine path (`fine_processor`): two 3×3 convs, then a coarse logit and an uncertainty (sigmoid)
   map, both resized to the base grid.
4. Refinement (`refine_head`): the coarse logit plus a correction from [resized hidden state,
   original s1 features]; a spatial gate g from [coarse, uncertainty] blends
   prompt = g·refined + (1 − g)·coarse.

Module names and layouts are the released checkpoint's; with hidden 64, scales (256, 32, 64),
reduction 4, 2 layers of width 16 and 4 heads it has 887,317 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engines.detective_sam.config import FUSED_STREAMS, DetectiveSAMConfig


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


class FeatureFusion(nn.Module):
    def __init__(
        self, scale_channels: Sequence[int], hidden_dim: int, dropout: float, reduction: int
    ) -> None:
        super().__init__()
        streams = len(FUSED_STREAMS)
        self.att_conv = nn.ModuleList()
        self.proj_conv = nn.ModuleList()
        for channels in scale_channels:
            attention_hidden = max(streams * channels // reduction, 8)
            self.att_conv.append(
                nn.Sequential(
                    nn.Conv2d(
                        streams * channels,
                        attention_hidden,
                        kernel_size=3,
                        padding=1,
                        groups=streams,
                        bias=False,
                    ),
                    nn.GELU(),
                    nn.Conv2d(attention_hidden, streams, 1, bias=False),
                )
            )
            self.proj_conv.append(
                nn.Sequential(nn.Conv2d(channels, hidden_dim, 1), nn.GELU(), nn.Dropout2d(dropout))
            )
        self.fuse_project = nn.Sequential(
            nn.Conv2d(hidden_dim * len(scale_channels), hidden_dim, 1),
            nn.GELU(),
            nn.Dropout2d(dropout),
        )

    def forward(
        self, streams_per_scale: Sequence[Sequence[torch.Tensor]], size: int
    ) -> torch.Tensor:
        """`streams_per_scale[s]` holds scale s's streams in `FUSED_STREAMS` order."""
        projected = []
        for attention, projection, streams in zip(
            self.att_conv, self.proj_conv, streams_per_scale, strict=True
        ):
            weights = attention(torch.cat(list(streams), 1)).softmax(1).unsqueeze(2)
            fused = (torch.stack(list(streams), 1) * weights).sum(1)
            projected.append(_resize(projection(fused), size))
        return self.fuse_project(torch.cat(projected, 1))


class CoarseProcessor(nn.Module):
    def __init__(
        self,
        hidden_dim: int,
        downscale: int,
        attention_dim: int,
        heads: int,
        layers: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.coarse_down = nn.Sequential(
            nn.Conv2d(hidden_dim, hidden_dim, downscale, stride=downscale, groups=hidden_dim),
            nn.Conv2d(hidden_dim, hidden_dim, 1),
            nn.GELU(),
            nn.Dropout2d(dropout),
        )
        self.pos_embed_conv = nn.Conv2d(2, hidden_dim, 1)
        self.pos_dropout = nn.Dropout2d(dropout)
        self.feat_proj = nn.Sequential(nn.Linear(hidden_dim, attention_dim), nn.Dropout(dropout))
        layer = nn.TransformerEncoderLayer(
            d_model=attention_dim,
            nhead=heads,
            dim_feedforward=4 * attention_dim,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
        )
        self.transformer_encoder = nn.TransformerEncoder(
            layer, num_layers=layers, enable_nested_tensor=False
        )
        self.transformer_out = nn.Sequential(
            nn.Linear(attention_dim, hidden_dim), nn.Dropout(dropout)
        )
        self.residual_gate_conv = nn.Sequential(
            nn.Conv2d(2 * hidden_dim, hidden_dim // 4, 3, padding=1),
            nn.GELU(),
            nn.Dropout2d(dropout),
            nn.Conv2d(hidden_dim // 4, 1, 1),
        )

    def _position_embedding(self, height: int, width: int) -> torch.Tensor:
        weight = self.pos_embed_conv.weight
        rows = torch.linspace(-1, 1, height, device=weight.device, dtype=weight.dtype)
        cols = torch.linspace(-1, 1, width, device=weight.device, dtype=weight.dtype)
        grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"))[None]
        return self.pos_dropout(self.pos_embed_conv(grid))

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        coarse = self.coarse_down(fused)
        batch, channels, height, width = coarse.shape
        tokens = (coarse + self._position_embedding(height, width)).flatten(2).transpose(1, 2)
        hidden = self.transformer_out(self.transformer_encoder(self.feat_proj(tokens)))
        hidden = hidden.transpose(1, 2).reshape(batch, channels, height, width)
        gate = torch.sigmoid(self.residual_gate_conv(torch.cat([hidden, coarse], 1)))
        return gate * hidden + (1 - gate) * coarse


class FineProcessor(nn.Module):
    def __init__(self, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.feature_refinement = nn.Sequential(
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1),
            nn.GELU(),
            nn.Dropout2d(dropout),
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1),
            nn.GELU(),
            nn.Dropout2d(dropout),
        )
        self.coarse_head = nn.Conv2d(hidden_dim, 1, 1)
        self.uncertainty_head = nn.Conv2d(hidden_dim, 1, 1)

    def forward(self, coarse_features: torch.Tensor, size: int) -> tuple[torch.Tensor, ...]:
        """(refined coarse features, coarse logit at `size`, uncertainty in [0, 1] at `size`)."""
        hidden = self.feature_refinement(coarse_features)
        coarse_logit = _resize(self.coarse_head(hidden), size)
        uncertainty = torch.sigmoid(_resize(self.uncertainty_head(hidden), size))
        return hidden, coarse_logit, uncertainty


class RefineHead(nn.Module):
    def __init__(self, hidden_dim: int, low_level_channels: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(hidden_dim + low_level_channels, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1)
        self.conv3 = nn.Conv2d(hidden_dim, 1, 1)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout2d(dropout)

    def forward(
        self, hidden: torch.Tensor, low_level: torch.Tensor, coarse_logit: torch.Tensor
    ) -> torch.Tensor:
        x = self.dropout(self.activation(self.conv1(torch.cat([hidden, low_level], 1))))
        x = self.dropout(self.activation(self.conv2(x)))
        return coarse_logit + self.conv3(x)


class MaskAdapter(nn.Module):
    def __init__(self, config: DetectiveSAMConfig) -> None:
        super().__init__()
        hidden, dropout = config.hidden_dim, config.dropout
        self.resolution = config.prompt_base_resolution
        self.feature_fusion = FeatureFusion(
            config.scale_channels, hidden, dropout, config.fusion_attention_reduction
        )
        self.coarse_processor = CoarseProcessor(
            hidden,
            config.coarse_downscale,
            config.attention_dim,
            config.attention_heads,
            config.attention_layers,
            dropout,
        )
        self.fine_processor = FineProcessor(hidden, dropout)
        self.spatial_gate = nn.Sequential(
            nn.Conv2d(2, hidden // 2, 3, padding=1),
            nn.GELU(),
            nn.Dropout2d(dropout),
            nn.Conv2d(hidden // 2, 1, 1),
            nn.Sigmoid(),
        )
        self.refine_head = RefineHead(hidden, config.scale_channels[1], dropout)

    def forward(
        self,
        adapted: Sequence[torch.Tensor],
        original: Sequence[torch.Tensor],
        perturbed: Sequence[Sequence[torch.Tensor]],
    ) -> torch.Tensor:
        """(B, 1, R, R) prompt logits, R = the base resolution; inputs as in `FeatureAdapter`."""
        size = self.resolution
        streams = [
            [adapted_s, original_s, *perturbed_s]
            for adapted_s, original_s, perturbed_s in zip(adapted, original, perturbed, strict=True)
        ]
        coarse_features = self.coarse_processor(self.feature_fusion(streams, size))
        hidden, coarse_logit, uncertainty = self.fine_processor(coarse_features, size)
        refined = self.refine_head(_resize(hidden, size), _resize(original[1], size), coarse_logit)
        gate = self.spatial_gate(torch.cat([coarse_logit, uncertainty], 1))
        return gate * refined + (1 - gate) * coarse_logit
