"""Writing evaluation runs as a metrics table (CSV) and a full record (JSON, with per-image rows).

JSON has no NaN: undefined metrics are written as null (`engines.evaluation.evaluate.finite_or_none`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engines.evaluation.evaluate import finite_or_none
from engines.evaluation.grid import GridRun

TABLE_COLUMNS = ("engine", "perturbation", "pixel_f1", "pixel_iou", "pixel_mcc", "pixel_auc",
                 "image_auc", "image_acc", "n_tampered", "n_authentic", "n_failed",
                 "seconds_per_image", "error")


def metrics_rows(runs: Sequence[GridRun]) -> list[dict[str, Any]]:
    """One row per run with the main metrics (None where undefined or the run failed)."""
    rows = []
    for run in runs:
        metrics = run.report.metrics if run.report is not None else {}
        row = {key: finite_or_none(metrics.get(key)) for key in TABLE_COLUMNS}
        row.update(engine=run.engine, perturbation=run.perturbation, error=run.error)
        rows.append(row)
    return rows


def runs_record(runs: Sequence[GridRun]) -> list[dict[str, Any]]:
    """Every run's full metrics and per-image records, JSON-ready."""
    records = []
    for run in runs:
        entry: dict[str, Any] = {"engine": run.engine, "perturbation": run.perturbation, "error": run.error}
        if run.report is not None:
            payload = run.report.to_dict()
            entry.update({k: finite_or_none(v) for k, v in payload.items() if k != "per_image"})
            entry["per_image"] = [{k: finite_or_none(v) for k, v in row.items()} for row in payload["per_image"]]
        records.append(entry)
    return records


def write_metrics_csv(runs: Sequence[GridRun], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows(metrics_rows(runs))
    return path


def write_runs_json(runs: Sequence[GridRun], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(runs_record(runs), indent=2, default=str))
    return path
