"""Run records and listing, training requests, and the Models panel's status rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.catalog import engine_names, get_engine
from engines.errors import WeightsError, WorkbenchError
from engines.store.status import engine_rows, load, parameter_count, store_rows, unload
from engines.training.runs import (
    RUN_RECORD,
    WEIGHTS_FILE,
    is_trainable,
    list_runs,
    read_run,
    trainable_engine_names,
    write_run_record,
)
from engines.training.job import TrainRequest, run_training
from synthetic_data import write_dataset


def _run(root: Path, name: str, engine: str = "detective_sam", profile: str = "compact", weights: bool = True) -> Path:
    folder = root / name
    write_run_record(folder, engine, profile, root / "data" / "forge_small", {"epochs": 2})
    if weights:
        (folder / WEIGHTS_FILE).write_bytes(b"x")
    return folder


def test_training_free_engines_are_not_trainable():
    assert not is_trainable("classic")
    assert "classic" not in trainable_engine_names()
    assert "detective_sam" in trainable_engine_names()
    assert set(trainable_engine_names()) <= set(engine_names())


def test_runs_are_listed_per_engine_and_profile_only_with_weights(tmp_path: Path):
    first = _run(tmp_path, "a")
    _run(tmp_path, "b", profile="full")
    _run(tmp_path, "c", weights=False)
    (tmp_path / "d").mkdir()
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / RUN_RECORD).write_text("{not json")
    runs = list_runs("detective_sam", "compact", runs_dir=tmp_path)
    assert [r.folder for r in runs] == [first]
    assert runs[0].weights == first / WEIGHTS_FILE
    assert runs[0].label() == "run a (0 epochs, forge_small)"
    assert {r.folder.name for r in list_runs(runs_dir=tmp_path, with_weights=False)} == {"a", "b", "c"}
    assert list_runs(runs_dir=tmp_path / "missing") == []


def test_read_run_counts_epochs_from_the_checkpoint_state(tmp_path: Path):
    folder = _run(tmp_path, "a")
    (folder / "state.json").write_text(json.dumps({"history": [{"epoch": 1}, {"epoch": 2}]}))
    run = read_run(folder)
    assert run.epochs_done == 2 and run.engine == "detective_sam" and run.settings == {"epochs": 2}
    assert read_run(tmp_path / "nothing") is None


def test_train_request_checks_its_numbers(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="Epochs"):
        TrainRequest("detective_sam", tmp_path, tmp_path, epochs=0)
    with pytest.raises(WorkbenchError, match="learning rate"):
        TrainRequest("detective_sam", tmp_path, tmp_path, lr=0)


def test_training_a_training_free_engine_is_refused_with_a_message(tmp_path: Path):
    data = write_dataset(tmp_path / "data", n_tampered=1, n_authentic=0)
    with pytest.raises(WorkbenchError, match="training-free"):
        run_training(TrainRequest("classic", data, tmp_path / "run"))


def test_missing_shipped_weights_are_named_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from engines.settings import get_settings

    monkeypatch.setenv("FORGERY_ASSETS", str(tmp_path / "assets"))
    get_settings.cache_clear()
    try:
        with pytest.raises(WeightsError, match="no shipped weights"):
            run_training(TrainRequest("detective_sam", tmp_path, tmp_path / "run", init_from_shipped=True))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert not (tmp_path / "run").exists()


def test_engine_rows_cover_every_engine_and_profile_and_follow_loading():
    unload("classic", "compact")  # earlier tests may have loaded an instance of their own
    rows = engine_rows()
    assert {(r["engine"], r["profile"]) for r in rows} >= {("classic", "compact"), ("detective_sam", "compact")}
    classic = next(r for r in rows if r["engine"] == "classic")
    assert classic["weights"].startswith("none needed") and classic["trainable"] is False
    load("classic", "compact")
    assert next(r for r in engine_rows() if r["engine"] == "classic")["loaded"] is True
    assert parameter_count(get_engine("classic")) is None  # a config, not a torch module
    assert unload("classic", "compact") == 1
    assert next(r for r in engine_rows() if r["engine"] == "classic")["loaded"] is False


def test_store_rows_name_every_registered_weight():
    rows = store_rows()
    assert {"lite_medsam", "detective_sam"} <= {r["name"] for r in rows}
    assert all({"present", "source", "path"} <= set(r) for r in rows)
