"""The measured reliability the app shows beside every verdict: image AUC, pixel F1 and the
precision of the "likely manipulated" band, per engine, profile and weights, on the complete
benchmarks. Writes `assets/reliability.json` (read by `engines.verdict`).

    nice -n 10 python bench/reliability.py --engines classic --out runs/bench/reliability
    python bench/reliability.py --from runs/bench/reliability/*.json      # only merge saved runs

Each engine × benchmark is one `python -m engines evaluate --engine E --profile P --dataset
<benchmarks>/<name> --json FILE` on every image (no subset), kept in --out; `--reuse` skips the
evaluations whose JSON is already there. Entries of other engines or profiles in the reliability
file are kept, so engines can be measured one at a time (rerun after retraining: the entry
records the weights' sha256, and the app shows no verdict for weights that differ). Nothing is
fitted here: the band limits are fixed in `engines.verdict`, the calibration comes with the
weights; the benchmarks only measure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import run_header
from engines.catalog import engine_class
from engines.settings import get_settings
from engines.verdict import (
    LIKELY_FROM,
    MIN_USEFUL_AUC,
    NO_EVIDENCE_UP_TO,
    BenchmarkResult,
    Reliability,
    load_reliability,
    reliability_path,
)


def evaluate_command(engine: str, profile: str, dataset: str, json_path: Path) -> list[str]:
    return [sys.executable, "-m", "engines", "evaluate", "--engine", engine, "--profile", profile,
            "--dataset", str(get_settings().benchmarks_dir / dataset), "--json", str(json_path)]


def benchmark_result(evaluation: dict[str, Any]) -> BenchmarkResult:
    """One evaluation's numbers, with the band's precision counted from its per-image scores."""
    scored = [row for row in evaluation["per_image"] if row.get("score") is not None]
    likely = [row for row in scored if row["score"] >= LIKELY_FROM]
    precision = sum(row["tampered"] for row in likely) / len(likely) if likely else None
    return BenchmarkResult(benchmark=Path(evaluation["dataset"]).name, n_tampered=evaluation["n_tampered"],
                           n_authentic=evaluation["n_authentic"], image_auc=evaluation.get("image_auc"),
                           pixel_f1=evaluation.get("pixel_f1"), likely_count=len(likely),
                           likely_precision=None if precision is None else round(precision, 4))


def reliability_entries(evaluations: list[dict[str, Any]]) -> list[Reliability]:
    """One entry per (engine, profile), from clean, complete evaluations of the same weights."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for evaluation in evaluations:
        if evaluation["perturbation"] != "none":
            raise SystemExit(f"{evaluation['engine']} on {evaluation['dataset']}: reliability is measured on the "
                             f"clean benchmark, not under {evaluation['perturbation']}.")
        if "weights" not in evaluation or "calibrated" not in evaluation:
            raise SystemExit(f"{evaluation['engine']} on {evaluation['dataset']}: this evaluation does not record "
                             "its weights and calibration; evaluate again with the current code.")
        grouped.setdefault((evaluation["engine"], evaluation["profile"]), []).append(evaluation)
    entries = []
    for (engine, profile), group in grouped.items():
        if len({json.dumps(e["weights"], sort_keys=True) for e in group}) > 1:
            raise SystemExit(f"{engine} ({profile}): the evaluations used different weights; evaluate again.")
        entries.append(Reliability(engine=engine, profile=profile, weights=group[0]["weights"],
                                   calibrated=bool(group[0]["calibrated"]),
                                   benchmarks=tuple(benchmark_result(e) for e in group),
                                   commit=group[0].get("commit", ""), date=group[0].get("date", "")))
    return entries


def merge(entries: list[Reliability], path: Path) -> dict[str, Any]:
    """The reliability file with `entries` replacing those of the same engine and profile."""
    replaced = {(e.engine, e.profile) for e in entries}
    kept = [e for e in load_reliability(path).entries if (e.engine, e.profile) not in replaced]
    ordered = sorted([*kept, *entries], key=lambda e: (e.engine, e.profile))
    return {
        "about": ("Measured by bench/reliability.py on the complete benchmarks (evaluation only: nothing is "
                  "fitted on them). Read by engines.verdict; an engine whose weights are not listed here "
                  "was not measured."),
        "bands": {"likely_manipulated_from": LIKELY_FROM, "no_evidence_up_to": NO_EVIDENCE_UP_TO,
                  "min_useful_image_auc": MIN_USEFUL_AUC},
        "written": run_header(),
        "entries": [e.to_dict() for e in ordered],
    }


def run_evaluations(engines: list[str], profile: str | None, datasets: list[str], out: Path,
                    reuse: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for engine in engines:
        chosen = profile or engine_class(engine).default_profile
        for dataset in datasets:
            json_path = out / f"{dataset}_{engine}_{chosen}.json"
            if not (reuse and json_path.is_file()):
                print(" ".join(evaluate_command(engine, chosen, dataset, json_path)), file=sys.stderr, flush=True)
                subprocess.run(evaluate_command(engine, chosen, dataset, json_path), check=True)
            paths.append(json_path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=[])
    parser.add_argument("--profile", default=None, help="default: each engine's default profile")
    parser.add_argument("--datasets", nargs="+", default=["casia1", "coverage"])
    parser.add_argument("--out", type=Path, default=Path("runs/bench/reliability"),
                        help="where the evaluation JSON files are kept")
    parser.add_argument("--reuse", action="store_true", help="keep evaluation JSON files already in --out")
    parser.add_argument("--from", dest="from_files", nargs="*", type=Path, default=[],
                        help="merge these `engines evaluate --json` files (no evaluation is run)")
    parser.add_argument("--file", type=Path, default=None, help=f"default: {reliability_path()}")
    args = parser.parse_args()
    if not args.engines and not args.from_files:
        parser.error("give --engines to evaluate, or --from files to merge")
    paths = list(args.from_files) + run_evaluations(args.engines, args.profile, args.datasets, args.out, args.reuse)
    entries = reliability_entries([json.loads(path.read_text()) for path in paths])
    target = args.file or reliability_path()
    target.write_text(json.dumps(merge(entries, target), indent=2) + "\n")
    for entry in entries:
        print(f"{entry.engine} ({entry.profile}): {entry.words()}")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
