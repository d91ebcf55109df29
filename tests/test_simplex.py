"""DiffForensics' simplex noise and diffusion schedule: statistics, structure, seeding, values."""

from __future__ import annotations

import math

import pytest
import torch

from engines.diffforensics.config import DiffusionConfig
from engines.diffforensics.diffusion import NoiseSchedule
from engines.diffforensics.simplex import (
    _SKEW,
    _UNSKEW,
    _random_permutations,
    make_noise,
    simplex_2d,
    simplex_noise,
)
from engines.errors import WorkbenchError


def _lag_correlation(noise: torch.Tensor, lag: int) -> float:
    """Pearson correlation of values `lag` pixels apart, horizontally and vertically pooled."""
    a = torch.cat([noise[..., :, :-lag].flatten(), noise[..., :-lag, :].flatten()])
    b = torch.cat([noise[..., :, lag:].flatten(), noise[..., lag:, :].flatten()])
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def paper_noise() -> torch.Tensor:
    return simplex_noise((2, 3, 128, 128), _seeded(0))


def test_each_channel_is_standardised(paper_noise):
    per_channel = paper_noise.flatten(2)
    assert per_channel.mean(dim=2).abs().max() < 1e-4
    assert torch.allclose(per_channel.std(dim=2), torch.ones(2, 3), atol=1e-4)
    assert torch.isfinite(paper_noise).all()
    assert paper_noise.abs().max() < 6  # a bounded noise: no outliers beyond a few std


def test_simplex_is_spatially_correlated_unlike_gaussian(paper_noise):
    gaussian = make_noise("gaussian", (2, 3, 128, 128), _seeded(0))
    simplex_lags = [_lag_correlation(paper_noise, lag) for lag in (1, 2, 3, 4)]
    for lag, correlation in zip((1, 2, 3, 4), simplex_lags, strict=True):
        assert correlation > 0.5
        assert abs(_lag_correlation(gaussian, lag)) < 0.03
    assert simplex_lags == sorted(simplex_lags, reverse=True)
    assert abs(_lag_correlation(paper_noise, 96)) < 0.15  # structure ends beyond the 64-px first octave


def test_octaves_and_persistence_shape_the_spectrum():
    one_octave = simplex_noise((1, 3, 96, 96), _seeded(1), octaves=1)
    six_octaves = simplex_noise((1, 3, 96, 96), _seeded(1), octaves=6)
    weak_detail = simplex_noise((1, 3, 96, 96), _seeded(1), octaves=6, persistence=0.3)
    smooth, paper, damped = (_lag_correlation(n, 1) for n in (one_octave, six_octaves, weak_detail))
    assert smooth > 0.99
    assert paper < damped < smooth


def test_seed_fixes_the_noise_and_fields_are_independent():
    first = simplex_noise((2, 3, 64, 64), _seeded(7))
    again = simplex_noise((2, 3, 64, 64), _seeded(7))
    other = simplex_noise((2, 3, 64, 64), _seeded(8))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    fields = first.flatten(2).reshape(6, -1)
    correlations = torch.corrcoef(fields)[~torch.eye(6, dtype=torch.bool)]
    assert correlations.abs().max() < 0.5


def test_simplex_is_zero_at_lattice_vertices_and_bounded():
    perm = _random_permutations(2, _seeded(3), torch.device("cpu"))
    i, j = torch.meshgrid(torch.arange(-3.0, 4.0), torch.arange(-3.0, 4.0), indexing="ij")
    x = (i - (i + j) * _UNSKEW).flatten()
    y = (j - (i + j) * _UNSKEW).flatten()
    assert math.isclose(_SKEW, (math.sqrt(3) - 1) / 2)
    assert simplex_2d(x, y, perm).abs().max() < 1e-5
    points = torch.rand(2, 20000, generator=_seeded(4)) * 40
    values = simplex_2d(points[0], points[1], perm)
    assert values.abs().max() <= 1.0 and values.std() > 0.2


def test_a_batch_of_256_px_images_is_generated_in_one_call():
    noise = simplex_noise((4, 3, 256, 256), _seeded(5))
    assert noise.shape == (4, 3, 256, 256) and noise.dtype == torch.float32


def test_noise_kinds_and_invalid_settings():
    assert make_noise("gaussian", (1, 3, 8, 8), _seeded(0)).shape == (1, 3, 8, 8)
    with pytest.raises(WorkbenchError, match="Unknown noise"):
        make_noise("pink", (1, 3, 8, 8))
    with pytest.raises(WorkbenchError, match="octaves"):
        simplex_noise((1, 3, 8, 8), octaves=0)


def test_linear_beta_schedule_and_alpha_bar():
    schedule = NoiseSchedule(DiffusionConfig())
    betas = schedule.betas
    assert len(betas) == 1000
    assert math.isclose(betas[0], 1e-4) and math.isclose(betas[-1], 0.02)
    assert torch.allclose(betas.diff(), torch.full((999,), (0.02 - 1e-4) / 999, dtype=torch.float64))
    alpha_bar = schedule.alphas_cumprod
    assert (alpha_bar.diff() < 0).all()
    assert math.isclose(float(schedule.alpha_bar(torch.tensor([1]))), 1 - 1e-4, rel_tol=1e-6)
    assert 0.999 < float(schedule.alpha_bar(torch.tensor([5]))) < 0.9995  # t_f = 5: almost clean
    assert float(schedule.alpha_bar(torch.tensor([1000]))) < 1e-4


def test_q_sample_mixes_image_and_noise_by_alpha_bar():
    schedule = NoiseSchedule(DiffusionConfig())
    x0 = torch.full((2, 3, 4, 4), 0.5)
    noise = torch.ones(2, 3, 4, 4)
    t = torch.tensor([1, 1000])
    x_t = schedule.q_sample(x0, t, noise)
    alpha_bar = schedule.alpha_bar(t)
    expected = alpha_bar.sqrt() * 0.5 + (1 - alpha_bar).sqrt()
    assert torch.allclose(x_t[:, 0, 0, 0], expected)
    timesteps = schedule.sample_timesteps(4000, _seeded(0))
    assert timesteps.min() == 1 and timesteps.max() == 1000
    assert schedule.noise((1, 3, 32, 32), _seeded(0)).flatten(2).std(dim=2).allclose(torch.ones(1, 3), atol=1e-4)
