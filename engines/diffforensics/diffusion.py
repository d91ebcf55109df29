"""The DDPM forward process of stage 1: the β schedule, ᾱ_t and x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε."""

from __future__ import annotations

import torch

from engines.diffforensics.config import DiffusionConfig
from engines.diffforensics.simplex import make_noise


class NoiseSchedule:
    """Linear β_t for t = 1..T (index t − 1 in the tensors), as in DDPM."""

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config
        self.betas = torch.linspace(config.beta_start, config.beta_end, config.timesteps, dtype=torch.float64)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)

    @property
    def timesteps(self) -> int:
        return self.config.timesteps

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        """ᾱ_t for integer timesteps t in 1..T (float32, same shape as t)."""
        return self.alphas_cumprod.to(t.device)[t.long() - 1].float()

    def sample_timesteps(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """t ~ Uniform{1, …, T}."""
        return torch.randint(1, self.timesteps + 1, (batch,), generator=generator)

    def noise(self, shape: tuple[int, int, int, int], generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
        """ε of the configured kind (simplex or Gaussian)."""
        simplex = self.config.simplex
        return make_noise(self.config.noise, shape, generator, start_frequency=simplex.start_frequency,
                          octaves=simplex.octaves, persistence=simplex.persistence, device=device)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t from x₀ (in [−1, 1]), per-sample timesteps t and noise ε."""
        alpha_bar = self.alpha_bar(t).to(x0.device).view(-1, 1, 1, 1)
        return alpha_bar.sqrt() * x0 + (1.0 - alpha_bar).sqrt() * noise
