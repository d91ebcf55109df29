"""The GUI reads only from its allowed roots (upload folder included) and writes only under runs."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

from engines.settings import PROJECT_ROOT, get_settings
from synthetic_data import write_dataset
from ui import evaluate_tab, train_tab
from ui.gradio_files import upload_folder
from ui.jobs import BackgroundJob

TRAIN_ARGS = dict(epochs=1, lr=1e-3, batch_size=2, seed=0, init_shipped=False, overrides_text="")


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gradio's upload folder, runs and shared folders of the test's own; no data roots."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("FORGERY_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("FORGERY_SHARED", str(tmp_path / "shared"))
    monkeypatch.delenv("FORGERY_DATA_ROOTS", raising=False)
    get_settings.cache_clear()
    (tmp_path / "gradio" / "0123abcd").mkdir(parents=True)
    yield upload_folder()
    monkeypatch.undo()
    get_settings.cache_clear()


def evaluate(path: Path | str) -> None:
    evaluate_tab.start_evaluation(BackgroundJob("evaluation"), ["classic"], None, str(path), ["none"], "", 0, False, 0)


@pytest.mark.parametrize("entries", [
    [["../../../../../../etc/passwd", "Negative"]],
    [[str(PROJECT_ROOT / "pyproject.toml"), "Negative"]],
    [[str(PROJECT_ROOT / "assets" / "examples" / "spliced.jpg"), "Negative"]],
])
def test_an_uploaded_index_cannot_reach_outside_its_folder(uploads: Path, entries: list):
    index = uploads / "0123abcd" / "index.json"
    index.write_text(json.dumps(entries))
    with pytest.raises(gr.Error) as error:
        evaluate(index)
    assert "does not name an image file" in str(error.value) or "lead outside" in str(error.value)
    assert "[project]" not in str(error.value) and "root:" not in str(error.value)


def test_an_uploaded_dataset_inside_the_upload_folder_is_read(uploads: Path):
    data = write_dataset(uploads / "0123abcd" / "tiny", n_tampered=1, n_authentic=1)
    dataset = evaluate_tab.open_chosen_dataset(None, str(data / "index.json"), 0)
    assert len(dataset) == 2


@pytest.mark.parametrize("typed", ["/tmp", "~", "/etc"])
def test_evaluate_refuses_tmp_home_and_system_folders(uploads: Path, typed: str):
    with pytest.raises(gr.Error, match="outside the folders"):
        evaluate(typed)


@pytest.mark.parametrize("where", ["~/.config/evil-run", "/tmp/evil-run", "shared"])
def test_train_and_forge_write_only_under_runs(uploads: Path, tmp_path: Path, where: str):
    data = write_dataset(get_settings().runs_dir / "datasets" / "tiny", n_tampered=1, n_authentic=0)
    out = str(tmp_path / "shared" / "data" / "benchmarks" / "run") if where == "shared" else where
    job = BackgroundJob("training")
    with pytest.raises(gr.Error, match="only folder the workbench writes to"):
        train_tab.start_training(job, "detective_sam", "compact", str(data), out, resume=False, **TRAIN_ARGS)
    photos = tmp_path / "shared" / "data" / "photos"
    photos.mkdir(parents=True)
    with pytest.raises(gr.Error, match="only folder the workbench writes to"):
        train_tab.start_forge(job, str(photos), out, 4, 128, 0)
    assert not job.running and not Path(out).expanduser().exists()
