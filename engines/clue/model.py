"""CLUE: the latent branch and the SAM branch, fused and turned into a forgery map.

`encode` runs everything frozen (the autoencoder's latent, the SAM encoder's LoRA-free prefix); a
trainer caches it. `forward_from_encoded` runs the rest: the noised latents through the MMDiT, the
SAM encoder's LoRA part, the Feature Fusion and Localization modules, and the evidence probes.

What trains is marked by `requires_grad` and nothing else (`trainable_state_dict`): the LoRA
weights (SAM branch; full's MMDiT), compact's from-scratch MMDiT and null text condition, the
fusion, localization and probe heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engines.store.trained_weights import trainable_state
from engines.clue.config import CLUEConfig
from engines.clue.fusion import EvidenceProbe, FeatureFusion, LocalizationModule
from engines.clue.latent_branch import LatentBranch, mark_trainable
from engines.clue.sam_branch import SAMBranch
from engines.training.losses import bce_dice_loss

LATENT = "latent"
SAM_PREFIX = "sam_prefix"
SAM_MAP = "sam_branch"
LATENT_MAP = "latent_branch"


@dataclass
class CLUEOutput:
    logits: torch.Tensor
    """B×1×S×S forgery logits (S = config.output_size)."""
    evidence: dict[str, torch.Tensor]
    """Probe logits, B×1×S×S each: "sam_branch", "latent_branch" and one "latent_t<σ>" per level."""


class CLUE(nn.Module):
    def __init__(self, config: CLUEConfig, latent: LatentBranch, sam: SAMBranch) -> None:
        super().__init__()
        self.config = config
        self.latent = latent
        self.sam = sam
        grid, scale = config.sam.grid, config.upsample_factor
        level_channels = config.latent.level_channels
        self.fusion = FeatureFusion(config.sam.out_channels, level_channels * config.latent.level_count,
                                    config.fusion_dim, config.fusion_groups, grid)
        self.localization = LocalizationModule(config.fusion_dim, config.localization_dim, scale)
        probes = {"sam": EvidenceProbe(config.fusion_dim, config.probe_dim, grid, scale),
                  "latent": EvidenceProbe(config.fusion_dim, config.probe_dim, grid, scale)}
        for level in range(config.latent.level_count):
            probes[f"level{level}"] = EvidenceProbe(level_channels, config.probe_dim, grid, scale)
        self.probes = nn.ModuleDict(probes)
        mark_trainable(latent)

    @property
    def evidence_names(self) -> dict[str, str]:
        """Probe key -> the name of its map in results."""
        names = {"sam": SAM_MAP, "latent": LATENT_MAP}
        names.update({f"level{i}": name for i, name in enumerate(self.latent.level_names)})
        return names

    def train(self, mode: bool = True) -> CLUE:
        super().train(mode)
        self.latent.train(mode)
        self.sam.train(mode)
        return self

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return trainable_state(self)

    @torch.no_grad()
    def encode(self, latent_images: torch.Tensor, sam_images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The frozen parts: images in [0, 1] at the two branches' input sizes -> cacheable tensors."""
        return {LATENT: self.latent.encode(latent_images), SAM_PREFIX: self.sam.encode_prefix(sam_images)}

    def forward_from_encoded(self, encoded: dict[str, torch.Tensor],
                             generator: torch.Generator | None = None) -> CLUEOutput:
        levels = self.latent(encoded[LATENT], generator)
        sam_features = self.sam.forward_from_prefix(encoded[SAM_PREFIX])
        sam_projected, latent_projected = self.fusion.project(sam_features, torch.cat(levels, dim=1))
        logits = self.localization(self.fusion(sam_projected, latent_projected))
        evidence = {"sam": self.probes["sam"](sam_projected), "latent": self.probes["latent"](latent_projected)}
        for index, level in enumerate(levels):
            evidence[f"level{index}"] = self.probes[f"level{index}"](level)
        names = self.evidence_names
        return CLUEOutput(logits, {names[key]: value for key, value in evidence.items()})

    def forward(self, latent_images: torch.Tensor, sam_images: torch.Tensor,
                generator: torch.Generator | None = None) -> CLUEOutput:
        return self.forward_from_encoded(self.encode(latent_images, sam_images), generator)


def clue_loss(output: CLUEOutput, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE + Dice on CLUE's map, plus the same loss for every probe.

    The probes read detached features, so their terms train only the probes: the gradient that
    reaches CLUE itself is the paper's BCE + Dice, with the Dice taken over tampered images only
    (an empty mask's Dice pushes every map to zero on forge v2's 1:1 authentic:tampered batches).
    """
    total, logs = bce_dice_loss(output.logits, target, dice_on_tampered_only=True)
    for name, logits in output.evidence.items():
        probe_loss, _ = bce_dice_loss(logits, target, dice_on_tampered_only=True)
        total = total + probe_loss
        logs[f"probe_{name}"] = probe_loss.item()
    return total, logs
