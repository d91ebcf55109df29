"""False alarms: the fraction of a benchmark's authentic images on which an engine's own mask is
not empty, and (for the classic engine) on which its copy-move tool reports a pair.

    python bench/false_alarms.py --engine classic --datasets coverage casia1 --out runs/bench/false_alarms

`python -m engines evaluate` scores pixels on tampered images only; this asks the other question
an analyst has: on an untouched photo, does the method mark anything at all?
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import run_header

from engines.catalog import get_engine
from engines.data.datasets import open_dataset
from engines.settings import get_settings


def false_alarms(engine_name: str, dataset_name: str) -> dict:
    dataset = open_dataset(get_settings().benchmarks_dir / dataset_name).authentic
    engine = get_engine(engine_name)
    flagged, with_pairs = [], []
    for index in range(len(dataset)):
        image, _ = dataset.load(index)
        analysis = engine.analyze(image, explain=False)
        if analysis.mask.any():
            flagged.append(dataset[index].image.name)
        if analysis.evidence.get("copy_move_pairs"):
            with_pairs.append(dataset[index].image.name)
    return {
        "engine": engine_name,
        "dataset": dataset_name,
        "n_authentic": len(dataset),
        "false_alarm_rate": len(flagged) / len(dataset),
        "copy_move_pair_rate": len(with_pairs) / len(dataset),
        "with_copy_move_pairs": with_pairs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--datasets", nargs="+", default=["coverage", "casia1"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [false_alarms(args.engine, name) for name in args.datasets]
    (args.out / "false_alarms.json").write_text(json.dumps({**run_header(), "rows": rows}, indent=2))
    for row in rows:
        print(f"{row['dataset']}: false alarms {row['false_alarm_rate']:.3f}, "
              f"copy-move pairs {row['copy_move_pair_rate']:.3f} of {row['n_authentic']} authentic images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
