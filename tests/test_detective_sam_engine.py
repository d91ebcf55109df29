"""Detective SAM as an engine: training from cached features, export, reload, analysis."""

from __future__ import annotations

import numpy as np
import pytest

from engines.catalog import get_engine
from engines.store.trained_weights import load_weights, read_calibration
from engines.data.datasets import open_dataset
from engines.detective_sam.engine import DetectiveSAMEngine
from engines.errors import WeightsError
from engines.forge.config import ForgeConfig
from engines.forge.pipeline import generate_dataset
from engines.settings import get_settings
from engines.store.model_store import get_store
from engines.training.loop import TrainSettings, fit

needs_lite_medsam = pytest.mark.skipif(get_store().find("lite_medsam") is None,
                                       reason="lite_medsam weights not fetched (make setup fetches them)")
PHOTOS = get_settings().photos_dir


@pytest.fixture(scope="module")
def tiny_forge(tmp_path_factory):
    if not PHOTOS.is_dir():
        pytest.skip("shared photos not found")
    out = tmp_path_factory.mktemp("forge")
    generate_dataset(PHOTOS, out, 8, ForgeConfig(size_range=(160, 176), seed=3), workers=1)
    return open_dataset(out)


@needs_lite_medsam
def test_train_with_a_jpeg_stream_export_and_analyze_with_trained_adapters(tiny_forge, tmp_path, monkeypatch):
    """The paper's JPEG perturbation chosen at training time (`train --set …`) is carried by the
    exported weights, so the engine analyses with the streams the adapters were trained on."""
    monkeypatch.setenv("FORGERY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FORGERY_WEIGHT_LITE_MEDSAM", str(get_store().path("lite_medsam")))
    get_settings.cache_clear()
    try:
        trainer = DetectiveSAMEngine.make_trainer(
            "compact", tiny_forge, None, batch_size=4, seed=0,
            overrides=("perturbation.streams=blur,jpeg", "perturbation.jpeg_quality=60"))
        assert len(trainer.cache) == 8 and len(trainer.validation_indices) == 1
        before = {k: v.clone() for k, v in trainer.model.trainable_state_dict().items()}
        state = fit(trainer, TrainSettings(out_dir=tmp_path / "run", epochs=1, lr=1e-3))
        assert state["epoch"] == 1 and np.isfinite(state["history"][0]["loss"])
        after = trainer.model.trainable_state_dict()
        assert any(not (before[k] == after[k]).all() for k in before)
        weights = tmp_path / "run" / "weights.safetensors"
        trainer.validation_indices = list(range(len(trainer.cache)))  # both classes, to calibrate
        trainer.export(weights)
        assert set(load_weights(weights)) == set(after)
        calibration = read_calibration(weights)
        assert calibration is not None and calibration.validation["n_images"] == 8
        assert 0 < calibration.validation["n_tampered"] < 8

        engine = DetectiveSAMEngine(weights=weights, device="cpu")
        rgb = np.asarray(tiny_forge.load(0)[0].rgb)[:150, :, :]
        first, second = engine.analyze(rgb), engine.analyze(rgb)
    finally:
        get_settings.cache_clear()
    assert first.heatmap.shape == rgb.shape[:2]
    assert np.array_equal(first.heatmap, second.heatmap)
    assert {f"shift_{s}_s{i}" for s in ("blur", "jpeg") for i in range(3)} == set(first.maps)
    assert first.provenance.parameters["perturbed_streams"] == ["blur", "jpeg"]
    assert first.provenance.parameters["jpeg_quality"] == 60
    assert first.provenance.weights[weights.name] and "lite_medsam" in first.provenance.weights
    assert first.provenance.parameters["threshold"] == calibration.pixel_threshold
    assert first.score == pytest.approx(calibration.calibrate_score(first.provenance.parameters["raw_score"]))


def test_missing_trained_weights_say_how_to_train(tmp_path):
    engine = DetectiveSAMEngine(weights=tmp_path / "absent.safetensors", device="cpu")
    with pytest.raises(WeightsError, match="python -m engines train --engine detective_sam"):
        engine.load()


@needs_lite_medsam
@pytest.mark.skipif(not DetectiveSAMEngine.shipped_weights("compact").is_file(), reason="no shipped weights")
def test_shipped_compact_model_finds_a_synthetic_splice(spliced_image):
    rgb, mask = spliced_image
    analysis = get_engine("detective_sam").analyze(rgb)
    assert analysis.heatmap[mask].mean() > analysis.heatmap[~mask].mean()
