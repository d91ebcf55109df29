"""`python -m engines train-explainer --data DIR --stage1 WEIGHTS --out DIR …`: IFDL-VLM stage 2.

Trains the explainer (projector + LoRA on the language model) on teacher explanations of a forge
dataset, on top of stage-1 weights from `python -m engines train --engine ifdl_vlm`; resumable.
`OUT/weights.safetensors` then holds both stages: the file the engine loads.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from engines.runs import WEIGHTS_FILE

HELP = "IFDL-VLM stage 2: train the explanation model on top of trained stage-1 weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the dataset stage 1 was trained on (made by `forge`)")
    parser.add_argument("--stage1", type=Path, required=True, help="stage-1 weights.safetensors")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, log, weights")
    parser.add_argument("--profile", default="compact", help="compact (default) or full")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples-per-epoch", type=int, default=None, help="training samples per epoch (default: all)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="must match stage 1's so both hold out the same samples")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    parser.add_argument("--no-resume", action="store_true", help="ignore a checkpoint already in --out")
    parser.add_argument("--export", type=Path, default=None, help="also copy the final weights here")


def run(args: argparse.Namespace) -> int:
    from engines.datasets import open_dataset
    from engines.ifdl_vlm.config import get_config
    from engines.ifdl_vlm.explainer_train import make_explainer_trainer
    from engines.training import TrainSettings, fit

    def preparing(done: int, total: int) -> None:
        if done == total or done % 80 == 0:
            print(f"preparing {done}/{total}", file=sys.stderr, flush=True)

    trainer = make_explainer_trainer(get_config(args.profile), open_dataset(args.data), args.stage1,
                                     args.batch_size, args.seed, args.samples_per_epoch, preparing)
    settings = TrainSettings(out_dir=args.out, epochs=args.epochs, lr=args.lr, seed=args.seed,
                             resume=not args.no_resume, max_minutes=args.max_minutes)

    def report(progress) -> None:
        print(json.dumps({"epoch": progress.epoch, "step": progress.step, "loss": round(progress.loss, 4)}),
              file=sys.stderr, flush=True)

    state = fit(trainer, settings, progress=report)
    weights = args.out / WEIGHTS_FILE
    trainer.export(weights)
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights, args.export)
    print(json.dumps({"weights": str(weights), "epochs": state["epoch"], "history": state["history"]}))
    return 0
