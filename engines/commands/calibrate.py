"""`python -m engines calibrate --engine classic --data FORGE_DIR`: fit a training-free engine's
score calibration on the held-out split of a synthetic forge dataset and write it where the
engine reads it (`assets/<engine>/calibration.json`, or --out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "calibrate a training-free engine's image score on a synthetic dataset's held-out split"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", required=True, help="a training-free engine, e.g. classic")
    parser.add_argument("--profile", default=None, help="compact (default)")
    parser.add_argument("--data", required=True, help="a forge dataset (never a benchmark)")
    parser.add_argument("--seed", type=int, default=0, help="the held-out split's seed, as in train")
    parser.add_argument("--out", type=Path, default=None, help="where to write the calibration JSON")


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from engines.catalog import engine_class, get_engine
    from engines.data.datasets import open_dataset
    from engines.errors import WorkbenchError
    from engines.evaluation.calibrate import calibrate_engine
    from engines.store.trained_weights import atomic_write

    if engine_class(args.engine).is_trainable():
        raise WorkbenchError(f"{args.engine} is trained: its calibration is fitted when its weights are "
                             "exported (python -m engines train).")
    engine = get_engine(args.engine, args.profile)
    dataset = open_dataset(args.data)

    def progress(index: int, total: int, name: str) -> None:
        if index % 20 == 0:
            print(f"[{index}/{total}] {name}", file=sys.stderr, flush=True)

    calibration = calibrate_engine(engine, dataset, args.seed, progress)
    out = args.out or engine.shipped_calibration()
    atomic_write(out, lambda tmp: Path(tmp).write_text(json.dumps(asdict(calibration), sort_keys=True, indent=2) + "\n"))
    print(json.dumps({"written": str(out), **calibration.describe(), "slope": calibration.score_slope,
                      "intercept": calibration.score_intercept}))
    return 0
