"""`python -m engines train --engine NAME --data DIR --out DIR …` (resumable)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from engines.commands.common import add_engine_arguments

HELP = "train an engine's trainable parts on a forgery dataset (resumes from --out when possible)"
WEIGHTS_FILE = "weights.safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_engine_arguments(parser)
    parser.add_argument("--data", required=True, help="training dataset (e.g. made by `forge`)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log, weights")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    parser.add_argument("--init", default=None,
                        help="start from these weights; 'shipped' = the project's trained weights "
                             "(continual adaptation to a new folder)")
    parser.add_argument("--no-resume", action="store_true", help="ignore a checkpoint already in --out")
    parser.add_argument("--export", type=Path, default=None, help="also copy the final weights here")


def run(args: argparse.Namespace) -> int:
    from engines.catalog import engine_class
    from engines.datasets import open_dataset
    from engines.training import TrainSettings, fit

    cls = engine_class(args.engine)
    profile = args.profile or cls.default_profile
    init = cls.shipped_weights(profile) if args.init == "shipped" else (Path(args.init) if args.init else None)
    dataset = open_dataset(args.data)

    def preparing(done: int, total: int) -> None:
        if done == total or done % 80 == 0:
            print(f"preparing {done}/{total}", file=sys.stderr, flush=True)

    trainer = cls.make_trainer(profile, dataset, init, args.batch_size, args.seed, preparing)
    settings = TrainSettings(out_dir=args.out, epochs=args.epochs, lr=args.lr, seed=args.seed,
                             resume=not args.no_resume, max_minutes=args.max_minutes)
    seen_epochs = set()

    def report(progress) -> None:
        if progress.history and progress.history[-1]["epoch"] not in seen_epochs:
            seen_epochs.add(progress.history[-1]["epoch"])
            print(json.dumps(progress.history[-1]), file=sys.stderr, flush=True)

    state = fit(trainer, settings, progress=report)
    weights = args.out / WEIGHTS_FILE
    trainer.export(weights)
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights, args.export)
    print(json.dumps({"weights": str(weights), "epochs": state["epoch"], "history": state["history"]}))
    return 0
