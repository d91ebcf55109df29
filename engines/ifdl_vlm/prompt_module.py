"""The attention prompt module: classifier logits attend over patch tokens to make one SAM prompt.

As in the authors' code: patch tokens → Linear + ReLU (keys and values); the class logits →
Linear (the query); one MultiheadAttention; the attention output is added to the projected
patches (residual) and the mean over patches is the single sparse prompt token. SAM's dense
prompt stays its `no_mask_embed`.
"""

from __future__ import annotations

import torch
from torch import nn


class AttentionPromptModule(nn.Module):
    def __init__(self, vision_dim: int, num_classes: int, prompt_dim: int, heads: int) -> None:
        super().__init__()
        self.patch_projection = nn.Sequential(nn.Linear(vision_dim, prompt_dim), nn.ReLU())
        self.query_projection = nn.Linear(num_classes, prompt_dim)
        self.attention = nn.MultiheadAttention(prompt_dim, heads, batch_first=True)

    def forward(self, patches: torch.Tensor, class_logits: torch.Tensor) -> torch.Tensor:
        """(B, N, vision_dim) patch tokens and (B, C) logits -> (B, 1, prompt_dim) prompt token."""
        projected = self.patch_projection(patches)
        query = self.query_projection(class_logits).unsqueeze(1)
        attended, _ = self.attention(query, projected, projected, need_weights=False)
        return (projected + attended).mean(dim=1, keepdim=True)
