"""`train --set` survives the round trip for every trainable engine: a run trained with a changed
setting exports weights that carry it, the engine rebuilds from what its weights say, and the
provenance of an analysis shows the changed value (not the profile's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.catalog import engine_class, engine_names
from engines.settings import get_settings
from engines.store.model_store import get_store
from engines.training.job import TrainRequest, run_training
from synthetic_data import write_dataset

CHANGES = {
    # engine: (--set assignment, provenance parameter, the changed value)
    "detective_sam": ("perturbation.noise_std=0.3", "noise_std", 0.3),
    "clue": ("latent.shift=1.5", "shift", 1.5),
    "diffforensics": ("diffusion.fixed_timestep=50", "fixed_timestep", 50),
    "ifdl_vlm": ("explainer.alpha=0.25", "alpha", 0.25),
}
BACKBONES = {"detective_sam": ["lite_medsam"], "clue": ["lite_medsam", "taef2_encoder"],
             "diffforensics": ["efficientnet_lite0"], "ifdl_vlm": ["lite_medsam", "efficientnet_lite0"]}


def test_every_trainable_engine_is_covered():
    assert sorted(CHANGES) == [name for name in engine_names() if engine_class(name).is_trainable()]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"), n_tampered=3, n_authentic=1, height=64, width=80)


@pytest.mark.parametrize("engine", sorted(CHANGES))
def test_set_is_trained_exported_reloaded_and_shown(engine, tiny_dataset, tmp_path, monkeypatch):
    missing = [name for name in BACKBONES[engine] if get_store().find(name) is None]
    if missing:
        pytest.skip(f"model-store weights not here: {missing}")
    assignment, parameter, changed = CHANGES[engine]
    cls = engine_class(engine)
    monkeypatch.setenv("FORGERY_CACHE", str(tmp_path / "cache"))
    for name in BACKBONES[engine]:
        monkeypatch.setenv(f"FORGERY_WEIGHT_{name.upper()}", str(get_store().path(name)))
    get_settings.cache_clear()
    try:
        outcome = run_training(TrainRequest(engine=engine, data=tiny_dataset, out_dir=tmp_path / "run",
                                            epochs=1, batch_size=4, overrides=(assignment,)))
        analysis = cls(weights=outcome.weights, device="cpu").analyze(np.full((48, 56, 3), 128, np.uint8))
        default = cls(device="cpu").config
    finally:
        get_settings.cache_clear()
    assert analysis.provenance.parameters[parameter] == changed
    assert _field(default, assignment) != changed  # the profile says otherwise: the value came from the weights


def _field(config, assignment: str):
    value = config
    for name in assignment.partition("=")[0].split("."):
        value = getattr(value, name)
    return value
