"""Several engines × perturbations in one go, failures kept per run, and the CSV/JSON export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from engines.data.datasets import open_dataset
from engines.errors import WorkbenchError
from engines.evaluation.grid import evaluate_grid
from engines.evaluation.export import TABLE_COLUMNS, metrics_rows, write_metrics_csv, write_runs_json
from engines.data.perturb import parse_chain
from synthetic_data import write_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return open_dataset(write_dataset(tmp_path_factory.mktemp("grid") / "tiny", n_tampered=2, n_authentic=1))


def test_grid_runs_every_pair_and_reports_progress_over_all_images(dataset, tmp_path: Path):
    steps = []
    runs = evaluate_grid(["classic"], dataset, [None, parse_chain("jpeg=50")],
                         progress=lambda done, total, what: steps.append((done, total)))
    assert [(r.engine, r.perturbation) for r in runs] == [("classic", "none"), ("classic", "jpeg(quality=50)")]
    assert all(r.report is not None and r.report.metrics["n_tampered"] == 2 for r in runs)
    assert steps[-1] == (6, 6) and {t for _, t in steps} == {6}
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)


def test_a_failing_engine_is_recorded_and_the_others_still_run(dataset, monkeypatch: pytest.MonkeyPatch):
    import engines.evaluation.grid as grid

    real = grid.get_engine

    def fake(name):
        if name == "broken":
            raise WorkbenchError("no weights for broken")
        return real(name)

    monkeypatch.setattr(grid, "get_engine", fake)
    runs = evaluate_grid(["broken", "classic"], dataset, [None])
    assert runs[0].error == "no weights for broken" and runs[0].report is None
    assert runs[1].report is not None
    rows = metrics_rows(runs)
    assert rows[0]["error"] == "no weights for broken" and rows[0]["pixel_f1"] is None
    assert isinstance(rows[1]["pixel_f1"], float)


def test_stop_request_ends_before_the_next_run(dataset):
    runs = evaluate_grid(["classic"], dataset, [None, None], should_stop=lambda: True)
    assert all(r.report is None for r in runs)


def test_empty_choices_are_refused(dataset):
    with pytest.raises(WorkbenchError, match="engine"):
        evaluate_grid([], dataset, [None])
    with pytest.raises(WorkbenchError, match="perturbation"):
        evaluate_grid(["classic"], dataset, [])


def test_exports_write_the_table_and_every_image(dataset, tmp_path: Path):
    runs = evaluate_grid(["classic"], dataset, [None])
    with open(write_metrics_csv(runs, tmp_path / "m.csv")) as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == TABLE_COLUMNS and table[0]["engine"] == "classic"
    assert float(table[0]["pixel_f1"]) == pytest.approx(runs[0].report.metrics["pixel_f1"])
    record = json.loads(write_runs_json(runs, tmp_path / "all.json").read_text())
    assert len(record[0]["per_image"]) == 3
    assert record[0]["image_eer"] is None or isinstance(record[0]["image_eer"], float)
    assert "NaN" not in (tmp_path / "all.json").read_text()
