"""`python -m engines pretrain --photos DIR --out DIR …`: DiffForensics stage 1 (resumable).

Self-supervised denoising pretraining of the DiffForensics decoder on unlabelled photos; its
weights then initialise stage 2: `python -m engines train --engine diffforensics --init
OUT/weights.safetensors …`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from engines.runs import WEIGHTS_FILE

HELP = "DiffForensics stage 1: denoising pretraining of the decoder on unlabelled photos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--photos", required=True, type=Path, help="folder of real photographs (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log, weights")
    parser.add_argument("--profile", default="compact", help="compact (default) or full")
    parser.add_argument("--noise", choices=("simplex", "gaussian"), default="simplex",
                        help="noise of the forward process (gaussian: the vanilla-DDPM ablation)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--crops-per-epoch", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    parser.add_argument("--no-resume", action="store_true", help="ignore a checkpoint already in --out")
    parser.add_argument("--export", type=Path, default=None, help="also copy the final weights here")


def run(args: argparse.Namespace) -> int:
    from engines.diffforensics.config import get_config
    from engines.diffforensics.pretrain import make_pretrainer
    from engines.training import TrainSettings, fit

    def loading(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"loading photos {done}/{total}", file=sys.stderr, flush=True)

    trainer = make_pretrainer(get_config(args.profile), args.photos, args.noise, args.crops_per_epoch,
                              args.batch_size, args.seed, loading)
    settings = TrainSettings(out_dir=args.out, epochs=args.epochs, lr=args.lr, seed=args.seed,
                             resume=not args.no_resume, max_minutes=args.max_minutes)
    reported = set()

    def report(progress) -> None:
        if progress.history and progress.history[-1]["epoch"] not in reported:
            reported.add(progress.history[-1]["epoch"])
            print(json.dumps(progress.history[-1]), file=sys.stderr, flush=True)

    state = fit(trainer, settings, progress=report)
    weights = args.out / WEIGHTS_FILE
    trainer.export(weights)
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights, args.export)
    print(json.dumps({"weights": str(weights), "noise": args.noise, "epochs": state["epoch"],
                      "history": state["history"]}))
    return 0
