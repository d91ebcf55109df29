"""CLUE's SAM branch: a SAM image encoder with peft LoRA on the attention QKV projections.

The encoder is split in two at `config.prefix_stages`: a frozen prefix that carries no LoRA
(`encode_prefix`, cacheable by a trainer) and the rest (`forward_from_prefix`), whose attention
`qkv` projections carry LoRA. full (segment-anything ViT-B): the prefix is the patch embedding with
its position embedding, LoRA is on all 12 blocks. compact (LiteMedSAM's TinyViT): the prefix is the
stem, the first three stages and the first block of the last stage; LoRA is on the last block
(see `engines.clue.config` for why).
"""

from __future__ import annotations

import torch
from peft import LoraConfig, inject_adapter_in_model
from torch import nn

from engines.clue.config import SAMBranchConfig


class SAMBranch(nn.Module):
    def __init__(self, config: SAMBranchConfig, encoder: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.register_buffer("pixel_mean", torch.tensor(config.pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(config.pixel_std).view(1, 3, 1, 1), persistent=False)
        pattern = self._lora_pattern()
        inject_adapter_in_model(
            LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=pattern), encoder
        )
        for name, parameter in self.named_parameters():
            parameter.requires_grad_("lora_" in name)

    def train(self, mode: bool = True) -> SAMBranch:
        """The encoder's own layers stay in eval mode (TinyViT's batch norms keep their statistics,
        so cached prefix features stay valid)."""
        super().train(mode)
        self.encoder.eval()
        return self

    @torch.no_grad()
    def encode_prefix(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×S×S in [0, 1] -> the frozen prefix's output."""
        return self._prefix((images - self.pixel_mean) / self.pixel_std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_from_prefix(self.encode_prefix(images))

    def _lora_pattern(self) -> str:
        """Regex (peft full-match on module names) of the `qkv` layers that get LoRA."""
        raise NotImplementedError

    def _prefix(self, normalised: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_from_prefix(self, prefix: torch.Tensor) -> torch.Tensor:
        """The prefix's output -> B×out_channels×grid×grid features."""
        raise NotImplementedError


class TinyViTBranch(SAMBranch):
    """LiteMedSAM's TinyViT (`engines.backbones.tiny_vit.TinyViT`): stages `layers.i`, each a run of
    `blocks` then an optional patch merging. The prefix ends `prefix_blocks` blocks into stage
    `prefix_stages`."""

    def _lora_pattern(self) -> str:
        first_stage, first_block = self.config.prefix_stages, self.config.prefix_blocks
        later_stages = "|".join(map(str, range(first_stage + 1, len(self.encoder.layers))))
        first_blocks = "|".join(map(str, range(first_block, len(self.encoder.layers[first_stage].blocks))))
        patterns = [rf"layers\.{first_stage}\.blocks\.({first_blocks})\.attn\.qkv"]
        if later_stages:
            patterns.append(rf"layers\.({later_stages})\.blocks\.\d+\.attn\.qkv")
        return "|".join(patterns)

    def _prefix(self, normalised: torch.Tensor) -> torch.Tensor:
        x = self.encoder.patch_embed(normalised)
        for stage in self.encoder.layers[: self.config.prefix_stages]:
            _, x = stage(x)
        for block in self.encoder.layers[self.config.prefix_stages].blocks[: self.config.prefix_blocks]:
            x = block(x)
        return x

    def forward_from_prefix(self, prefix: torch.Tensor) -> torch.Tensor:
        x = prefix
        split = self.encoder.layers[self.config.prefix_stages]
        for block in split.blocks[self.config.prefix_blocks:]:
            x = block(x)
        if split.downsample is not None:
            x = split.downsample(x)
        for stage in self.encoder.layers[self.config.prefix_stages + 1:]:
            _, x = stage(x)
        return self.encoder.neck(x)


class ViTBranch(SAMBranch):
    """segment_anything's `ImageEncoderViT`: blocks `blocks.i`, tokens B×H×W×C."""

    def _lora_pattern(self) -> str:
        blocks = range(self.config.prefix_stages, len(self.encoder.blocks))
        return rf"blocks\.({'|'.join(map(str, blocks))})\.attn\.qkv"

    def _prefix(self, normalised: torch.Tensor) -> torch.Tensor:
        x = self.encoder.patch_embed(normalised)
        if self.encoder.pos_embed is not None:
            x = x + self.encoder.pos_embed
        for block in self.encoder.blocks[: self.config.prefix_stages]:
            x = block(x)
        return x

    def forward_from_prefix(self, prefix: torch.Tensor) -> torch.Tensor:
        x = prefix
        for block in self.encoder.blocks[self.config.prefix_stages:]:
            x = block(x)
        return self.encoder.neck(x.permute(0, 3, 1, 2))


def sam_branch(config: SAMBranchConfig, encoder: nn.Module) -> SAMBranch:
    return (ViTBranch if config.encoder == "sam_vit_b" else TinyViTBranch)(config, encoder)
