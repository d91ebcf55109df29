"""What a resumed run keeps: the minutes of the per-epoch history go on from where the first run
stopped (they restarted at 0), and run.json keeps the time the run was first created."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from engines.training.runs import RUN_RECORD, write_run_record
from engines.training.loop import TrainSettings, fit
from test_training import LineTrainer


def test_minutes_go_on_after_a_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    clock = itertools.count(0.0, 6.0)  # every look at the clock: six more seconds
    monkeypatch.setattr("engines.training.loop.time.monotonic", lambda: next(clock))
    first = fit(LineTrainer(), TrainSettings(out_dir=tmp_path, epochs=1, lr=0.05))
    resumed = fit(LineTrainer(), TrainSettings(out_dir=tmp_path, epochs=2, lr=0.05))
    before, after = first["history"][-1]["minutes"], resumed["history"][-1]["minutes"]
    assert resumed["history"][0] == first["history"][0]
    assert after > 1.5 * before > 0


def test_run_json_keeps_the_time_the_run_was_first_created(tmp_path: Path):
    write_run_record(tmp_path, "detective_sam", "compact", "data", {})
    record = json.loads((tmp_path / RUN_RECORD).read_text())
    record["created"] = "2020-01-01T00:00:00+00:00"
    (tmp_path / RUN_RECORD).write_text(json.dumps(record))
    write_run_record(tmp_path, "detective_sam", "compact", "data", {"epochs": 2})
    again = json.loads((tmp_path / RUN_RECORD).read_text())
    assert again["created"] == "2020-01-01T00:00:00+00:00" and again["settings"] == {"epochs": 2}
