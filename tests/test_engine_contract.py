"""The engine contract: result checks, registries, lazy thread-safe loading, provenance."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engines.catalog import engine_class, engine_names, get_engine
from engines.engine import Engine, RawOutput
from engines.errors import UnknownNameError, WorkbenchError
from engines.registry import Registry
from engines.result import Analysis, Provenance


class CountingEngine(Engine):
    """A plumbing double: the heatmap is the image's normalised red channel."""

    name = "counting"
    title = "Counting"
    profiles = {"compact": {"gain": 1.0}, "full": {"gain": 0.5}}
    builds = 0

    def _build(self):
        time.sleep(0.05)
        type(self).builds += 1
        self._weights_sha256 = {"fake": "0" * 64}
        return self.config["gain"]

    def _run(self, model, rgb):
        heat = rgb[..., 0].astype(np.float32) / 255.0 * model
        return RawOutput(heatmap=heat, score=float(heat.max()), maps={"red": heat},
                         parameters={"gain": model})


def _provenance() -> Provenance:
    return Provenance(engine="x", profile="compact", device="cpu")


def test_analysis_rejects_bad_maps():
    heat = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="mask shape"):
        Analysis(heatmap=heat, mask=np.zeros((5, 4), bool), score=0.1, provenance=_provenance())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Analysis(heatmap=heat + 2, mask=heat > 0, score=0.1, provenance=_provenance())
    with pytest.raises(ValueError, match="score"):
        Analysis(heatmap=heat, mask=heat > 0, score=1.5, provenance=_provenance())
    with pytest.raises(ValueError, match="map 'x'"):
        Analysis(heatmap=heat, mask=heat > 0, score=0.1, provenance=_provenance(),
                 maps={"x": np.zeros((2, 2))})


def test_mask_at_is_strictly_above_threshold():
    heat = np.array([[0.4, 0.5, 0.6]], np.float32)
    analysis = Analysis(heatmap=heat, mask=heat > 0.5, score=0.6, provenance=_provenance())
    assert analysis.mask_at(0.5).tolist() == [[False, False, True]]


def test_registry_suggests_close_names():
    registry: Registry[int] = Registry("widget")
    registry.register("detective_sam")(1)
    with pytest.raises(UnknownNameError, match="Did you mean 'detective_sam'"):
        registry.get("detectiv_sam")


def test_unknown_engine_and_profile_messages():
    with pytest.raises(UnknownNameError, match="Did you mean 'classic'"):
        engine_class("clasic")
    with pytest.raises(WorkbenchError, match="no profile 'fulll'.*Did you mean 'full'"):
        CountingEngine(profile="fulll")


def test_lazy_load_happens_once_across_threads():
    CountingEngine.builds = 0
    engine = CountingEngine()
    assert not engine.loaded
    threads = [threading.Thread(target=engine.load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CountingEngine.builds == 1 and engine.loaded
    engine.unload()
    assert not engine.loaded


class ExplainingEngine(CountingEngine):
    """A double that writes explanations and counts how often their parts are loaded."""

    name = "explaining"
    writes_explanations = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.explanation_loads = 0

    def _load_explanations(self, model):
        self.explanation_loads += 1

    def _run(self, model, rgb, explain=True):
        return super()._run(model, rgb)


def test_what_only_explanations_need_is_loaded_once_and_only_when_asked():
    engine = ExplainingEngine()
    engine.analyze(np.zeros((8, 8, 3), np.uint8), explain=False)
    assert engine.loaded and engine.is_ready(explanations=False) and not engine.is_ready()
    assert engine.explanation_loads == 0
    engine.load()
    engine.analyze(np.zeros((8, 8, 3), np.uint8))
    assert engine.is_ready() and engine.explanation_loads == 1
    engine.unload()
    assert not engine.is_ready(explanations=False)
    engine.load()
    assert engine.explanation_loads == 2


def test_analyze_fills_provenance_and_default_mask():
    engine = CountingEngine(profile="full", device="cpu")
    rgb = np.zeros((8, 9, 3), np.uint8)
    rgb[2:4, 3:6, 0] = 255
    analysis = engine.analyze(rgb)
    assert analysis.size == (8, 9)
    assert analysis.provenance.engine == "counting" and analysis.provenance.profile == "full"
    assert analysis.provenance.weights == {"fake": "0" * 64}
    assert analysis.provenance.parameters == {"threshold": 0.5, "gain": 0.5}
    assert analysis.score == pytest.approx(0.5)
    assert not analysis.mask.any()
    assert set(analysis.maps) == {"red"}


def test_get_engine_returns_one_shared_instance():
    assert get_engine("classic") is get_engine("classic")
    assert get_engine("classic") is not get_engine("classic", device="cpu")


def test_every_engine_refuses_the_same_inputs_with_the_same_message(monkeypatch: pytest.MonkeyPatch):
    """Too small, too large and unreadable: refused by the Engine base before any model loads."""
    from engines.catalog import engine_names
    from engines.errors import ImageInputError
    from engines.data.imageio import load_image
    from engines.settings import get_settings

    large = load_image(np.zeros((64, 64, 3), np.uint8))
    monkeypatch.setenv("FORGERY_MAX_MEGAPIXELS", "0.001")
    get_settings.cache_clear()
    try:
        for bad, expected in ((np.zeros((1, 1, 3), np.uint8), "at least 8×8 pixels"),
                              (large, "above the 0.001 MP limit"), (b"not an image", "not an image")):
            messages = set()
            for name in engine_names():
                engine = engine_class(name)(device="cpu")
                with pytest.raises(ImageInputError, match=expected) as refused:
                    engine.analyze(bad)
                assert not engine.loaded
                messages.add(str(refused.value))
            assert len(messages) == 1, messages
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.parametrize("name", engine_names())
def test_every_engine_keeps_the_analysis_contract(name: str):
    """Each catalogued engine (its default profile, the weights it ships) returns every map at the
    image's size in [0, 1], a score in [0, 1], its own provenance, and the same result twice."""
    from engines.store.availability import profile_availability

    cls = engine_class(name)
    if not profile_availability(name, cls.default_profile).available:
        pytest.skip(f"{name} {cls.default_profile}: weights not on this machine")
    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal(128, 30, (45, 61, 3)), 0, 255).astype(np.uint8)
    engine = get_engine(name)  # the instance the engines' own tests share: each model loads once
    first, second = engine.analyze(rgb), engine.analyze(rgb)
    assert (first.provenance.engine, first.provenance.profile) == (name, cls.default_profile)
    assert first.provenance.weights or not cls.is_trainable()
    for values in (first.heatmap, *first.maps.values()):
        assert values.shape == (45, 61) and values.dtype == np.float32
        assert 0.0 <= values.min() and values.max() <= 1.0
    assert first.mask.shape == (45, 61) and first.mask.dtype == bool
    assert 0.0 <= first.score <= 1.0
    assert first.score == second.score and np.array_equal(first.heatmap, second.heatmap)


def test_importing_the_package_has_no_side_effects():
    """`import engines.errors` (what the GUI and the CLI import first) loads no torch: the
    torchvision fix is installed where models are built (engines/torchvision_compat.py)."""
    import subprocess
    import sys

    code = "import sys, engines.errors, engines.settings; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
