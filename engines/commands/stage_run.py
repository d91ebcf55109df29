"""What the extra training-stage commands (`pretrain`, `train-explainer`) share with each other:
the run-folder options, fitting with a progress line per epoch, and exporting the weights."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from engines.runs import WEIGHTS_FILE


def add_run_arguments(parser: argparse.ArgumentParser, *, epochs: int, lr: float, batch_size: int) -> None:
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log, weights")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    parser.add_argument("--no-resume", action="store_true", help="ignore a checkpoint already in --out")
    parser.add_argument("--export", type=Path, default=None, help="also copy the final weights here")


def print_progress(done: int, total: int) -> None:
    if done == total or done % 80 == 0:
        print(f"preparing {done}/{total}", file=sys.stderr, flush=True)


def fit_and_export(trainer: Any, args: argparse.Namespace, **extra: Any) -> int:
    """Train (resuming from `--out`), write `--out/weights.safetensors` (and `--export`), and
    print a JSON summary with `extra` in it."""
    from engines.training import TrainSettings, fit

    settings = TrainSettings(out_dir=args.out, epochs=args.epochs, lr=args.lr, seed=args.seed,
                             resume=not args.no_resume, max_minutes=args.max_minutes)
    reported: set[int] = set()

    def report(progress: Any) -> None:
        if progress.history and progress.history[-1]["epoch"] not in reported:
            reported.add(progress.history[-1]["epoch"])
            print(json.dumps(progress.history[-1]), file=sys.stderr, flush=True)

    state = fit(trainer, settings, progress=report)
    weights = args.out / WEIGHTS_FILE
    trainer.export(weights)
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights, args.export)
    print(json.dumps({"weights": str(weights), **extra, "epochs": state["epoch"], "history": state["history"]}))
    return 0
