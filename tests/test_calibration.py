"""Calibration fitted on validation predictions: the pixel threshold and the Platt score map."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engines.store.trained_weights import CALIBRATION_KEY, read_calibration
from engines.training.calibration import Calibration, best_pixel_threshold, fit_calibration


def _predictions(seed: int = 0, n: int = 80):
    """Maps that are too cold (true regions reach ~0.35) and raw scores that are too high."""
    rng = np.random.default_rng(seed)
    heatmaps, masks, scores, labels = [], [], [], []
    for i in range(n):
        tampered = i % 2 == 0
        mask = np.zeros((32, 32), bool)
        if tampered:
            mask[8:20, 10:24] = True
        heatmaps.append(np.clip(0.35 * mask + rng.uniform(0, 0.2, (32, 32)), 0, 1).astype(np.float32))
        masks.append(mask if tampered else None)
        scores.append(float(np.clip((0.85 if tampered else 0.7) + rng.normal(0, 0.05), 0.01, 0.99)))
        labels.append(tampered)
    return heatmaps, masks, scores, labels


def test_best_threshold_finds_the_cold_maps_level():
    heatmaps, masks, _, _ = _predictions()
    threshold, means = best_pixel_threshold(heatmaps, masks)
    assert 0.2 <= threshold <= 0.35 and means[threshold] == 1.0 and means[0.5] < 0.5


def test_platt_map_does_not_take_the_split_s_mix_as_the_world_s():
    """Three times as many tampered validation images (same scores) leave the map unchanged."""
    heatmaps, masks, scores, labels = _predictions()
    tampered = [i for i, label in enumerate(labels) if label]
    extra = tampered * 2
    tilted = fit_calibration(heatmaps + [heatmaps[i] for i in extra], masks + [masks[i] for i in extra],
                             scores + [scores[i] for i in extra], labels + [True] * len(extra))
    even = fit_calibration(heatmaps, masks, scores, labels)
    for raw in (0.7, 0.78, 0.85):
        assert tilted.calibrate_score(raw) == pytest.approx(even.calibrate_score(raw), abs=0.01)


def test_platt_map_is_monotone_and_separates_the_classes():
    heatmaps, masks, scores, labels = _predictions()
    calibration = fit_calibration(heatmaps, masks, scores, labels)
    low, high = calibration.calibrate_score(0.7), calibration.calibrate_score(0.85)
    assert low < 0.2 and high > 0.8
    grid = [calibration.calibrate_score(s) for s in np.linspace(0.01, 0.99, 50)]
    assert all(a <= b for a, b in zip(grid, grid[1:]))
    assert calibration.validation["image_acc_raw_at_0.5"] == 0.5
    assert calibration.validation["image_acc_calibrated_at_0.5"] > 0.85


def test_calibration_round_trips_through_weights_metadata(tmp_path):
    calibration = fit_calibration(*_predictions())
    path = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={CALIBRATION_KEY: calibration.to_json()})
    assert read_calibration(path) == calibration
    save_file({"x": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    assert read_calibration(tmp_path / "plain.safetensors") is None
    assert Calibration.from_json(calibration.to_json()).describe()["fitted_on"] == "synthetic validation split"


def test_one_class_validation_is_refused():
    heatmaps, masks, scores, _ = _predictions()
    with pytest.raises(ValueError, match="authentic and tampered"):
        fit_calibration(heatmaps, masks, scores, [True] * len(scores))


def test_a_given_pixel_threshold_is_kept_not_fitted():
    calibration = fit_calibration(*_predictions(), pixel_threshold=0.5)
    assert calibration.pixel_threshold == 0.5
    assert calibration.validation["pixel_f1_at_threshold"] == calibration.validation["pixel_f1_at_0.5"] < 0.5


def test_calibrate_command_writes_the_classic_calibration_the_engine_then_uses(tmp_path, monkeypatch):
    from engines.catalog import engine_class
    from engines.cli import main
    from engines.data.datasets import open_dataset
    from engines.settings import get_settings
    from engines.training.split import held_out_split
    from tests.synthetic_data import write_dataset

    n_tampered = n_authentic = 12
    data = write_dataset(tmp_path / "forge", n_tampered, n_authentic)
    labels = [sample.tampered for sample in open_dataset(data)]
    seed = next(s for s in range(100) if len({labels[i] for i in held_out_split(len(labels), s)[1]}) == 2)
    (tmp_path / "assets").mkdir()
    shutil.copy(get_settings().assets_dir / "memory.json", tmp_path / "assets")
    monkeypatch.setenv("FORGERY_ASSETS", str(tmp_path / "assets"))
    get_settings.cache_clear()
    try:
        assert main(["calibrate", "--engine", "detective_sam", "--data", str(data)]) == 2
        assert main(["calibrate", "--engine", "classic", "--data", str(data), "--seed", str(seed)]) == 0
        written = tmp_path / "assets" / "classic" / "calibration.json"
        calibration = Calibration.from_json(written.read_text())
        assert calibration.pixel_threshold == 0.5 and calibration.validation["split_seed"] == seed
        analysis = engine_class("classic")().analyze(data / "tampered" / "t0.jpg")
        assert analysis.provenance.parameters["calibration"]["dataset"] == "forge"
        assert analysis.score == pytest.approx(calibration.calibrate_score(analysis.provenance.parameters["raw_score"]))
        assert len(analysis.provenance.weights["calibration.json"]) == 64
    finally:
        get_settings.cache_clear()
