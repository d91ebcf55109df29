"""Quality table: engines × benchmarks × perturbations, written as JSON and a markdown table.

    python bench/quality.py --engines classic detective_sam --datasets casia1 coverage \
        --perturb none jpeg=70 blur=1.5 --limit casia1=300 --out runs/bench/quality

Each cell is one `engines.evaluation.evaluate.evaluate` run (the same function as `python -m engines
evaluate`); `--limit NAME=N` evaluates a fixed balanced subset (`ForgeryDataset.subset`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engines.catalog import get_engine
from engines.data.datasets import open_dataset
from engines.evaluation.evaluate import evaluate, finite_or_none
from engines.data.perturb import parse_chain
from engines.settings import get_settings

COLUMNS = ("pixel_f1", "pixel_iou", "pixel_auc", "image_auc", "image_acc", "seconds_per_image")


def parse_limits(items: list[str]) -> dict[str, int]:
    return {name: int(value) for name, value in (item.split("=", 1) for item in items)}


def markdown_table(rows: list[dict]) -> str:
    header = "| engine | profile | dataset | n (tampered/authentic) | perturbation | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else "n/a" for c in COLUMNS]
        lines.append(f"| {row['engine']} | {row['profile']} | {row['dataset']} | "
                     f"{row['n_tampered']}/{row['n_authentic']} | {row['perturbation']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", required=True)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--datasets", nargs="+", default=["casia1", "coverage"])
    parser.add_argument("--perturb", nargs="+", default=["none", "jpeg=70", "blur=1.5"])
    parser.add_argument("--limit", nargs="*", default=[], help="NAME=N balanced subsets")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    limits = parse_limits(args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for dataset_name in args.datasets:
        dataset = open_dataset(get_settings().benchmarks_dir / dataset_name)
        if dataset_name in limits:
            dataset = dataset.subset(limits[dataset_name])
        for engine_name in args.engines:
            engine = get_engine(engine_name, args.profile)
            for spec in args.perturb:
                chain = None if spec == "none" else parse_chain(spec)
                report = evaluate(engine, dataset, chain)
                row = {k: finite_or_none(v) for k, v in report.metrics.items()}
                row["dataset"] = dataset_name + (f" (subset {limits[dataset_name]})" if dataset_name in limits else "")
                rows.append(row)
                print(json.dumps({k: row[k] for k in ("engine", "dataset", "perturbation", *COLUMNS)}),
                      file=sys.stderr, flush=True)
                (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    (args.out / "table.md").write_text(markdown_table(rows) + "\n")
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
