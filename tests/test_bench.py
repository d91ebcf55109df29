"""The bench scripts' plumbing on tiny inputs: robustness grid, speed worker, app-timing table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engines.catalog import get_engine
from engines.errors import WeightsError
from synthetic_data import write_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import app_timing  # noqa: E402
import hotspots  # noqa: E402
import robustness  # noqa: E402
import speed  # noqa: E402


def test_standard_grid_columns_and_noise_variances():
    levels = robustness.grid_levels()
    assert [level.column for level in levels] == [
        "clean", "jpeg50", "jpeg60", "jpeg70", "jpeg80", "jpeg90", "jpeg100",
        "blur3", "blur7", "blur11", "blur15", "blur19", "blur23",
        "noise3", "noise7", "noise11", "noise15", "noise19", "noise23", "resize0.5", "resize0.75",
    ]
    noise3 = next(level for level in levels if level.column == "noise3")
    assert noise3.chain.steps[0].params == {"sigma": pytest.approx(3 ** 0.5, abs=1e-3)}
    assert levels[0].chain is None


class _MissingWeights:
    profile = "compact"

    def load(self):
        raise WeightsError("No trained weights at /nowhere.\nTrain them first.")


def test_robustness_grid_table_and_plot(tmp_path, monkeypatch):
    data = write_dataset(tmp_path / "tiny", n_tampered=2, n_authentic=1)
    monkeypatch.setattr(robustness, "get_engine",
                        lambda name, profile: _MissingWeights() if name == "missing" else get_engine(name, profile))
    dataset = robustness.tampered_subset(str(data), 5)
    assert len(dataset) == 2 and all(sample.tampered for sample in dataset)
    levels = robustness.grid_levels({"jpeg": [50], "resize": [0.5]})
    cells = robustness.run_grid(["classic", "missing"], [dataset], levels)

    measured = [cell for cell in cells if cell["engine"] == "classic"]
    assert [cell["column"] for cell in measured] == ["clean", "jpeg50", "resize0.5"]
    assert all(0.0 <= cell["pixel_f1"] <= 1.0 and cell["n_tampered"] == 2 for cell in measured)
    assert [cell["error"] for cell in cells if cell["engine"] == "missing"] == [
        "n/a: No trained weights at /nowhere.\nTrain them first."]

    table = robustness.markdown_table(cells, levels).splitlines()
    assert table[0] == "| engine | profile | dataset | n tampered | clean | jpeg50 | resize0.5 |"
    assert table[2].startswith("| classic | compact | tiny | 2 | ")
    assert table[3] == "| missing | compact | tiny | – | n/a: No trained weights at /nowhere. | | |"
    assert all(line.count("|") == table[0].count("|") for line in table)

    figure = robustness.grid_figure(cells, levels)
    assert [ax.get_title() for ax in figure.axes] == ["tiny: jpeg", "tiny: resize"]
    assert len(figure.axes[0].lines) == 2  # the classic sweep and its dashed clean line
    figure.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_speed_worker_measures_classic_in_a_fresh_process(tmp_path):
    inputs = speed.write_inputs(None, [64], tmp_path)
    row = speed.run_worker("classic", "compact", "cpu", [64], 1, inputs, timeout=120)
    assert "error" not in row, row
    (entry,) = row["sizes"]
    assert entry["size"] == 64 and entry["seconds_median"] > 0
    assert row["torch_threads"] >= 1 and row["load_seconds"] >= 0
    assert 0 < row["rss_before_load_mb"] <= row["peak_rss_mb"] and row["peak_rss_after_load_mb"] <= row["peak_rss_mb"]

    failed = {"engine": "clue", "profile": "full", "device": "cpu", "error": "n/a: weights | missing\nsecond line"}
    table = speed.markdown_table([row, failed], [64]).splitlines()
    assert table[2].startswith("| classic | compact | cpu | ")
    assert table[3].startswith("| clue | full | cpu | n/a: weights \\| missing |")
    assert all(line.count("|") - line.count("\\|") == table[0].count("|") for line in table)


def test_app_timing_table_reports_errors_as_notes():
    rows = [
        {"engine": "classic", "profile": "compact",
         "first": {"seconds": 2.5, "upload_seconds": 1.0, "analyse_seconds": 1.5},
         "warm": {"seconds": 1.25, "upload_seconds": 0.5, "analyse_seconds": 0.75}},
        {"engine": "clue", "profile": "compact", "first": {"error": "n/a: No trained CLUE weights"},
         "warm": {"error": "n/a: No trained CLUE weights"}},
    ]
    table = app_timing.markdown_table(rows).splitlines()
    assert table[2] == "| classic | compact | 2.50 | 1.50 | 1.25 | 0.75 |  |"
    assert table[3] == "| clue | compact | – | – | – | – | n/a: No trained CLUE weights |"


def test_hotspots_name_the_classic_engines_own_steps():
    rgb = speed.square_input(None, 96)
    result = hotspots.hotspots("classic", rgb, top=3)
    assert result["seconds"] > 0 and len(result["steps"]) == 3 and len(result["operators"]) == 3
    assert all(row["project"] and "engine.py" not in row["function"] for row in result["steps"])
    assert "| classic (compact) |" in hotspots.markdown([result])
