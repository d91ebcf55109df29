"""The compact stage 1's vision tower: pretrained features, trainable tokens.

A from-scratch CLIP cannot learn forgery classes from a few thousand CPU-trained samples, and no
CLIP weights exist offline. So the frozen ImageNet EfficientNet-Lite feature maps (several strides,
each average-pooled to the same `token_grid`² grid and concatenated per cell) become the patch
tokens; a linear projection, a class token, learned positions and a small pre-norm transformer
encoder are trained on top. Its outputs follow CLIP's: hidden states per layer, the class token
first; the last layer is layer-normalised (CLIP's `post_layernorm` place).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.backbones.efficientnet_lite import EfficientNetLite
from engines.ifdl_vlm.config import VisionConfig

BACKBONE = "backbone."
"""Parameter prefix of the frozen part (not trained, not saved)."""


class TokenVision(nn.Module):
    def __init__(self, config: VisionConfig, backbone: EfficientNetLite) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone.eval().requires_grad_(False)
        channels = sum(self._stage_channels())
        width = config.hidden_size
        self.projection = nn.Linear(channels, width)
        self.class_token = nn.Parameter(torch.zeros(1, 1, width))
        self.positions = nn.Parameter(torch.randn(1, 1 + config.token_grid ** 2, width) * 0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(width, config.num_attention_heads, config.intermediate_size, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
            for _ in range(config.num_hidden_layers))
        self.norm = nn.LayerNorm(width)

    def _stage_channels(self) -> list[int]:
        with torch.no_grad():
            stages = self.backbone.forward_stages(torch.zeros(1, 3, 32, 32))
        return [stages[i].shape[1] for i in self.config.backbone_stages]

    def train(self, mode: bool = True) -> TokenVision:
        """The frozen backbone keeps its batch-norm statistics."""
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def backbone_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, token_grid², C) frozen tokens of (B, 3, S, S) images in [0, 1]."""
        stages = self.backbone.forward_stages(EfficientNetLite.normalise(images))
        grid = self.config.token_grid
        pooled = [F.adaptive_avg_pool2d(stages[i], grid) for i in self.config.backbone_stages]
        return torch.cat(pooled, dim=1).flatten(2).transpose(1, 2)

    def hidden_states(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """[embeddings, after layer 1, …, last layer (normalised)], each (B, 1 + N, width)."""
        x = self.projection(tokens)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.positions
        states = [x]
        for layer in self.layers:
            states.append(layer(states[-1]))
        states[-1] = self.norm(states[-1])
        return states
