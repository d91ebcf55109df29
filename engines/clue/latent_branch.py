"""CLUE's latent branch: a frozen autoencoder, rectified-flow noising, and an SD3 MMDiT whose block
features are the forensic feature map.

The image (B×3×S×S in [0, 1]) is encoded to a latent z by the frozen autoencoder (`encode`, which
a trainer can cache). For each noise level the scheduler makes z_t = (1 − σ)·z + σ·ε
(`FlowMatchEulerDiscreteScheduler.scale_noise`, at one of its own `timesteps`); every level uses
the same ε, so the levels are points on one noising path. The transformer processes all levels in
one batch, conditioned on the level's timestep and on a text condition (`TextCondition`); forward
hooks on the chosen `transformer_blocks` collect their image tokens (a block's second output),
which are put back on the patch grid and concatenated: one feature map per level.
"""

from __future__ import annotations

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
from torch import nn

from engines.clue.config import LatentBranchConfig

LORA_TARGETS = ("to_q", "to_k", "to_v")


class TextCondition(nn.Module):
    """What the MMDiT's text stream receives: (encoder_hidden_states, pooled_projections).

    CLUE localises without a prompt. full: the SD3 text encoders' embeddings of the empty prompt,
    fixed (given at construction, not saved with the trained weights). compact: no text encoder
    exists, so a learned "null" sequence and pooled vector take their place and train with the
    transformer.
    """

    def __init__(self, hidden_states: torch.Tensor, pooled: torch.Tensor, learned: bool) -> None:
        super().__init__()
        if learned:
            self.hidden_states = nn.Parameter(hidden_states)
            self.pooled = nn.Parameter(pooled)
        else:
            self.register_buffer("hidden_states", hidden_states, persistent=False)
            self.register_buffer("pooled", pooled, persistent=False)

    @classmethod
    def null_token(cls, config: LatentBranchConfig) -> TextCondition:
        generator = torch.Generator().manual_seed(0)
        hidden = torch.randn(1, config.null_tokens, config.transformer["joint_attention_dim"], generator=generator)
        pooled = torch.randn(1, config.transformer["pooled_projection_dim"], generator=generator)
        return cls(hidden * 0.02, pooled * 0.02, learned=True)

    def forward(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hidden_states.expand(batch, -1, -1), self.pooled.expand(batch, -1)


class LatentBranch(nn.Module):
    def __init__(self, config: LatentBranchConfig, autoencoder: nn.Module, transformer: SD3Transformer2DModel,
                 text: TextCondition) -> None:
        super().__init__()
        self.config = config
        self.autoencoder = autoencoder.requires_grad_(False).eval()
        self.transformer = transformer
        self.text = text
        self.scheduler = FlowMatchEulerDiscreteScheduler(shift=config.shift)
        self.scheduler.set_timesteps(config.schedule_steps)
        if config.noise == "none":
            timesteps = torch.zeros(1)
        else:
            timesteps = self.scheduler.timesteps[list(config.noise_step_indices)].float()
        self.register_buffer("timesteps", timesteps, persistent=False)
        self._captured: dict[int, torch.Tensor] = {}
        for index in config.feature_blocks:
            transformer.transformer_blocks[index].register_forward_hook(self._capture(index))
        deepest = max(config.feature_blocks)
        self._skipped = list(range(deepest + 1, len(transformer.transformer_blocks))) or None
        """Blocks after the deepest feature block cannot change the features: not run."""

    def _capture(self, index: int):
        def hook(module: nn.Module, inputs: object, outputs: tuple[torch.Tensor | None, torch.Tensor]) -> None:
            self._captured[index] = outputs[1]

        return hook

    def train(self, mode: bool = True) -> LatentBranch:
        super().train(mode)
        self.autoencoder.eval()
        return self

    @property
    def level_names(self) -> list[str]:
        """One name per noise level, "latent_t<σ>" (σ = timestep / 1000, the noise fraction)."""
        return [f"latent_t{t / self.scheduler.config.num_train_timesteps:.2f}" for t in self.timesteps.tolist()]

    @property
    def sigmas(self) -> list[float]:
        return [t / self.scheduler.config.num_train_timesteps for t in self.timesteps.tolist()]

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×S×S in [0, 1] -> the scaled latent z (frozen; cacheable)."""
        if self.config.autoencoder == "sd3_vae":
            # The distribution's mean, not a sample: the same image always gives the same latent.
            raw = self.autoencoder.encode(images * 2 - 1).latent_dist.mode()
        else:
            raw = self.autoencoder(images)
        return (raw - self.config.shift_factor) * self.config.scaling_factor

    def noised(self, latents: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """(L·B)×C×h×w: z_t for every level, level-major, all from the same noise ε."""
        if self.config.noise == "none":
            return latents
        levels = len(self.timesteps)
        timesteps = self.timesteps.repeat_interleave(latents.shape[0])
        repeated = latents.repeat(levels, 1, 1, 1)
        return self.scheduler.scale_noise(repeated, timesteps, noise.repeat(levels, 1, 1, 1))

    def forward(self, latents: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Per noise level, B×(width·blocks)×g×g features (g = latent side / patch size)."""
        noise = None
        if self.config.noise == "rectified_flow":
            noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
        noisy = self.noised(latents, noise)
        timesteps = self.timesteps.repeat_interleave(latents.shape[0])
        hidden, pooled = self.text(noisy.shape[0])
        self._captured = {}
        self.transformer(noisy, encoder_hidden_states=hidden, pooled_projections=pooled, timestep=timesteps,
                         skip_layers=self._skipped)
        grid = self.config.token_grid
        blocks = [self._captured.pop(i) for i in self.config.feature_blocks]
        features = torch.cat(blocks, dim=-1).transpose(1, 2).reshape(noisy.shape[0], -1, grid, grid)
        return list(features.chunk(len(self.timesteps)))


def mark_trainable(branch: LatentBranch) -> None:
    """What trains in the latent branch.

    With LoRA (full): only the LoRA weights. Without (compact, from scratch): the transformer and
    the learned text condition, except the output head (`norm_out`, `proj_out`) and the blocks
    after the deepest feature block, which never reach the features.
    """
    branch.requires_grad_(False)
    if branch.config.lora_rank is not None:
        for name, parameter in branch.transformer.named_parameters():
            parameter.requires_grad_("lora_" in name)
        return
    branch.text.requires_grad_(True)
    transformer = branch.transformer
    transformer.requires_grad_(True)
    transformer.norm_out.requires_grad_(False)
    transformer.proj_out.requires_grad_(False)
    for index in range(max(branch.config.feature_blocks) + 1, len(transformer.transformer_blocks)):
        transformer.transformer_blocks[index].requires_grad_(False)


def add_transformer_lora(transformer: SD3Transformer2DModel, rank: int, alpha: float) -> None:
    """peft LoRA on the attention projections of the image stream (to_q/to_k/to_v)."""
    from peft import LoraConfig

    transformer.requires_grad_(False)
    transformer.add_adapter(LoraConfig(r=rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                       target_modules=list(LORA_TARGETS)))
