"""`python -m engines train --engine NAME --data DIR --out DIR …` (resumable)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from engines.commands.common import add_engine_arguments

HELP = "train an engine's trainable parts on a forgery dataset (resumes from --out when possible)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_engine_arguments(parser)
    parser.add_argument("--data", type=Path, required=True, help="training dataset (e.g. made by `forge`)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log, weights")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    parser.add_argument("--init", default=None,
                        help="start from these weights; 'shipped' = the project's trained weights "
                             "(continual adaptation to a new folder)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="change the profile's configuration, e.g. perturbation.streams=blur,jpeg "
                             "(detective_sam); repeatable")
    parser.add_argument("--no-resume", action="store_true", help="ignore a checkpoint already in --out")
    parser.add_argument("--export", type=Path, default=None, help="also copy the final weights here")


def run(args: argparse.Namespace) -> int:
    from engines.training_run import TrainRequest, run_training

    request = TrainRequest(
        engine=args.engine, data=args.data, out_dir=args.out, profile=args.profile,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        init_from_shipped=args.init == "shipped",
        init_weights=Path(args.init) if args.init not in (None, "shipped") else None,
        resume=not args.no_resume, max_minutes=args.max_minutes, overrides=tuple(args.overrides),
    )
    seen_epochs: set[int] = set()

    def preparing(done: int, total: int) -> None:
        if done == total or done % 80 == 0:
            print(f"preparing {done}/{total}", file=sys.stderr, flush=True)

    def report(progress) -> None:
        if progress.history and progress.history[-1]["epoch"] not in seen_epochs:
            seen_epochs.add(progress.history[-1]["epoch"])
            print(json.dumps(progress.history[-1]), file=sys.stderr, flush=True)

    outcome = run_training(request, preparing=preparing, progress=report)
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(outcome.weights, args.export)
    print(json.dumps({"weights": str(outcome.weights), "epochs": outcome.epochs_done,
                      "history": outcome.history}))
    return 0
