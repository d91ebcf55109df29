"""Detective SAM's preprocessing: the noise seed from the image's pixels, an explicit seed, provenance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engines.method_config import apply_overrides
from engines.detective_sam.build import build_detective_sam
from engines.detective_sam.config import PerturbationConfig
from engines.detective_sam.engine import DetectiveSAMEngine
from engines.detective_sam.preprocess import SEED_MODULUS, content_sample_seed, noise_stream_seed
from engines.errors import WorkbenchError
from test_detective_sam_model import TINY

SETTINGS = PerturbationConfig()


def _image(seed: int = 0, height: int = 40, width: int = 56) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_the_sample_seed_depends_on_the_pixels_and_the_settings_only():
    rgb = _image()
    seed = content_sample_seed(rgb, SETTINGS)
    assert 0 <= seed < SEED_MODULUS
    assert content_sample_seed(rgb.copy(), SETTINGS) == seed
    assert content_sample_seed(np.asfortranarray(rgb), SETTINGS) == seed
    changed = rgb.copy()
    changed[5, 7, 1] ^= 1
    assert content_sample_seed(changed, SETTINGS) != seed
    assert content_sample_seed(rgb.reshape(56, 40, 3), SETTINGS) != seed
    assert content_sample_seed(rgb, replace(SETTINGS, noise_std=0.2)) != seed
    assert content_sample_seed(rgb, replace(SETTINGS, streams=("noise", "blur"))) != seed


def test_the_noise_stream_adds_its_index_among_the_perturbed_streams_as_the_authors():
    assert noise_stream_seed(1000, SETTINGS) == 1001
    assert noise_stream_seed(1000, replace(SETTINGS, streams=("noise", "jpeg"))) == 1000
    assert noise_stream_seed(1000, replace(SETTINGS, streams=("blur", "jpeg"))) is None


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_detective_sam(TINY)


@pytest.fixture
def engine(tiny_model, monkeypatch):
    engine = DetectiveSAMEngine(profile="compact", device="cpu")
    monkeypatch.setattr(engine, "_build", lambda: tiny_model)
    return engine


def test_analysis_seeds_the_noise_from_the_image_and_records_it(engine):
    rgb = _image(1)
    first, again = engine.analyze(rgb), engine.analyze(rgb.copy())
    parameters = first.provenance.parameters
    assert parameters["noise_seed"] == content_sample_seed(rgb, TINY.perturbation)
    assert "pixels" in parameters["noise_seed_from"]
    assert parameters["resize"] == "OpenCV INTER_LINEAR"
    assert np.array_equal(first.heatmap, again.heatmap)
    assert engine.analyze(_image(2)).provenance.parameters["noise_seed"] != parameters["noise_seed"]


def test_an_explicit_seed_replaces_the_derived_one(engine):
    rgb = _image(1)
    derived = engine.analyze(rgb)
    engine.config = apply_overrides(engine.config, ["perturbation.noise_seed=1179480939"])
    explicit = engine.analyze(rgb)
    assert explicit.provenance.parameters["noise_seed"] == 1179480939
    assert "perturbation.noise_seed" in explicit.provenance.parameters["noise_seed_from"]
    assert not np.array_equal(explicit.heatmap, derived.heatmap)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True])
def test_an_explicit_seed_must_be_a_non_negative_integer(seed):
    with pytest.raises(WorkbenchError, match="noise_seed"):
        PerturbationConfig(noise_seed=seed)


def test_training_refuses_an_explicit_noise_seed():
    with pytest.raises(WorkbenchError, match="train --seed"):
        DetectiveSAMEngine.make_trainer("compact", None, None, 1, 0, overrides=("perturbation.noise_seed=3",))
