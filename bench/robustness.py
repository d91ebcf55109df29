"""Robustness grid: pixel F1 of each engine under IMDL-BenCo's / SAFIRE's standard perturbations.

    python bench/robustness.py --datasets casia1 coverage --tampered 8 --out runs/bench/robustness

(`--engines` defaults to every registered engine.) Each cell is one `engines.evaluation.evaluate.evaluate`
run on the first N tampered images of a dataset: mean pixel F1 over those images at threshold
0.5, heatmaps resized back to the ground-truth mask when a perturbation changed the size. The
grids are `engines.data.perturb.STANDARD_GRIDS`: JPEG quality 50–100, Gaussian blur kernel 3–23 (σ by
OpenCV's rule), Gaussian noise *variance* 3–23 (albumentations' `GaussNoise(var_limit)`
convention that IMDL-BenCo uses, i.e. σ = √v), downscaling to 0.5 and 0.75; plus the clean run.
Writes robustness.json (every cell), robustness.md (engine×dataset rows, one column per level)
and robustness.png (one panel per axis and dataset; dashed: clean).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from common import header_markdown, not_available, run_header, table_text, write_outputs
from engines.catalog import engine_names, get_engine
from engines.data.datasets import ForgeryDataset, open_dataset
from engines.errors import WorkbenchError
from engines.evaluation.evaluate import evaluate, finite_or_none
from engines.evaluation.metrics import DEFAULT_THRESHOLD
from engines.data.perturb import STANDARD_GRIDS, Chain, sweep
from engines.reports.plots import AXIS_LABELS
from engines.settings import get_settings

COLUMN_PREFIX = {"jpeg": "jpeg", "blur_kernel": "blur", "noise_var": "noise", "resize": "resize"}
NOTES = (
    f"Pixel F1: mean over the tampered images at threshold {DEFAULT_THRESHOLD}. "
    "jpegQ: OpenCV JPEG at quality Q. blurK: Gaussian blur with a K×K kernel, σ by OpenCV's rule. "
    "noiseV: Gaussian noise of *variance* V in 0–255 units (IMDL-BenCo's albumentations "
    "`GaussNoise(var_limit=(V, V))` convention; σ = √V ≈ 1.7–4.8). resizeS: downscaled by S and "
    "analysed at that size; the heatmap is resized back to the mask."
)


@dataclass(frozen=True)
class Level:
    """One column of the grid: the clean run (axis None) or one intensity on one sweep axis."""

    column: str
    axis: str | None
    value: float | None
    chain: Chain | None


def grid_levels(grids: Mapping[str, Sequence[float]] = STANDARD_GRIDS) -> list[Level]:
    levels = [Level("clean", None, None, None)]
    for axis, values in grids.items():
        for value, chain in zip(values, sweep(axis, values), strict=True):
            levels.append(Level(f"{COLUMN_PREFIX.get(axis, axis)}{value:g}", axis, value, chain))
    return levels


def tampered_subset(name_or_path: str, n_tampered: int) -> ForgeryDataset:
    """The first N tampered images of a benchmark (a name under benchmarks_dir) or dataset folder."""
    path = Path(name_or_path)
    folder = path if path.exists() else get_settings().benchmarks_dir / name_or_path
    return open_dataset(folder).tampered[:n_tampered]


def run_grid(engines: Sequence[str], datasets: Sequence[ForgeryDataset], levels: Sequence[Level],
             profile: str | None = None) -> list[dict[str, Any]]:
    """One cell per engine × dataset × level; an engine that cannot load gets one n/a cell per dataset."""
    cells: list[dict[str, Any]] = []
    for engine_name in engines:
        engine = None
        try:
            engine = get_engine(engine_name, profile)
            engine.load()
        except WorkbenchError as error:
            print(f"{engine_name}: {not_available(error)}", file=sys.stderr, flush=True)
            shown_profile = engine.profile if engine is not None else profile
            cells += [{"engine": engine_name, "profile": shown_profile, "dataset": d.name,
                       "error": not_available(error)} for d in datasets]
            continue
        for dataset in datasets:
            for level in levels:
                metrics = evaluate(engine, dataset, level.chain).metrics
                cell = {
                    "engine": engine_name, "profile": engine.profile, "dataset": dataset.name,
                    "column": level.column, "axis": level.axis, "value": level.value,
                    "perturbation": metrics["perturbation"],
                    "pixel_f1": finite_or_none(metrics["pixel_f1"]),
                    "n_tampered": metrics["n_tampered"], "n_failed": metrics["n_failed"],
                    "seconds_per_image": finite_or_none(metrics["seconds_per_image"]),
                }
                cells.append(cell)
                f1 = "n/a" if cell["pixel_f1"] is None else f"{cell['pixel_f1']:.3f}"
                print(f"{engine_name} {dataset.name} {level.column}: pixel F1 {f1} "
                      f"({cell['seconds_per_image'] or 0:.2f} s/image)", file=sys.stderr, flush=True)
        engine.unload()
    return cells


def _rows(cells: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in cells:
        rows.setdefault((cell["engine"], cell["dataset"]), []).append(cell)
    return rows


def markdown_table(cells: Sequence[dict[str, Any]], levels: Sequence[Level]) -> str:
    columns = [level.column for level in levels]
    header = "| engine | profile | dataset | n tampered | " + " | ".join(columns) + " |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for (engine, dataset), row in _rows(cells).items():
        if "error" in row[0]:
            profile = row[0]["profile"] or "default"
            lines.append(f"| {engine} | {profile} | {dataset} | – | {table_text(row[0]['error'])} |"
                         + " |" * (len(columns) - 1))
            continue
        f1 = {c["column"]: c["pixel_f1"] for c in row}
        values = [f"{f1[c]:.3f}" if f1.get(c) is not None else "n/a" for c in columns]
        lines.append(f"| {engine} | {row[0]['profile']} | {dataset} | {row[0]['n_tampered']} | "
                     + " | ".join(values) + " |")
    return "\n".join(lines)


def grid_figure(cells: Sequence[dict[str, Any]], levels: Sequence[Level]) -> Figure:
    """Rows: datasets; columns: sweep axes; one line per engine, its clean F1 dashed in the same colour."""
    axes_names = list(dict.fromkeys(level.axis for level in levels if level.axis is not None))
    datasets = list(dict.fromkeys(cell["dataset"] for cell in cells))
    engines = list(dict.fromkeys(cell["engine"] for cell in cells))
    figure = Figure(figsize=(3.6 * max(1, len(axes_names)), 3.0 * max(1, len(datasets))), layout="constrained")
    panels = figure.subplots(max(1, len(datasets)), max(1, len(axes_names)), squeeze=False)
    rows = _rows(cells)
    for r, dataset in enumerate(datasets):
        for c, axis in enumerate(axes_names):
            ax = panels[r][c]
            for index, engine in enumerate(engines):
                row = [cell for cell in rows.get((engine, dataset), []) if "error" not in cell]
                points = sorted((cell["value"], cell["pixel_f1"]) for cell in row
                                if cell["axis"] == axis and cell["pixel_f1"] is not None)
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, marker="o", color=f"C{index}", label=engine)
                clean = [cell["pixel_f1"] for cell in row if cell["axis"] is None and cell["pixel_f1"] is not None]
                if clean:
                    ax.axhline(clean[0], color=f"C{index}", linestyle="--", linewidth=1, alpha=0.7)
            ax.set_title(f"{dataset}: {axis}", fontsize="medium")
            ax.set_xlabel(AXIS_LABELS.get(axis, axis))
            ax.set_ylabel("pixel F1")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
    panels[0][0].legend(title="dashed: clean", fontsize="small")
    return figure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=engine_names())
    parser.add_argument("--profile", default=None, help="default: each engine's default profile")
    parser.add_argument("--datasets", nargs="+", default=["casia1", "coverage"],
                        help="benchmark names (under the shared benchmarks folder) or dataset folders")
    parser.add_argument("--tampered", type=int, default=8, help="first N tampered images of each dataset")
    parser.add_argument("--axes", nargs="+", default=list(STANDARD_GRIDS), choices=list(STANDARD_GRIDS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    levels = grid_levels({axis: STANDARD_GRIDS[axis] for axis in args.axes})
    datasets = [tampered_subset(name, args.tampered) for name in args.datasets]
    header = run_header()
    cells = run_grid(args.engines, datasets, levels, args.profile)
    payload = {
        **header, "notes": NOTES, "tampered_per_dataset": args.tampered, "threshold": DEFAULT_THRESHOLD,
        "levels": [{"column": lv.column, "axis": lv.axis, "value": lv.value,
                    "perturbation": lv.chain.describe() if lv.chain else "none"} for lv in levels],
        "cells": cells,
    }
    table = markdown_table(cells, levels)
    write_outputs(args.out, "robustness", payload, f"{header_markdown(header)}\n\n{NOTES}\n\n{table}")
    grid_figure(cells, levels).savefig(args.out / "robustness.png", dpi=110)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
