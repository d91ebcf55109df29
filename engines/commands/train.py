"""`python -m engines train --engine NAME [--stage STAGE] --data DIR --out DIR …` (resumable).

`--stage` runs an engine's extra training stage (DiffForensics `pretrain` on a photo folder,
IFDL-VLM `explainer` on top of `--init` stage-1 weights): `Engine.stages`."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from engines.commands.common import add_engine_arguments

HELP = "train an engine's trainable parts, or one of its stages, on a forgery dataset (resumes from --out)"
ON_THE_FLY_SAMPLES = 4000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_engine_arguments(parser)
    parser.add_argument("--stage", default=None,
                        help="training stage: train (the default), pretrain (diffforensics stage 1: --data is a "
                             "photo folder), explainer (ifdl_vlm stage 2, on top of --init stage-1 weights)")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path, help="training dataset (e.g. made by `forge`); a photo folder for --stage pretrain")
    data.add_argument("--on-the-fly", action="store_true",
                      help="forge v2 samples made inside the run from --photos (diffforensics)")
    parser.add_argument("--photos", type=Path, action="append", default=None,
                        help="photo folder for --on-the-fly (repeatable; default: the shared photos "
                             "and the FORGERY_PHOTOS folders)")
    parser.add_argument("--samples-per-epoch", type=int, default=None,
                        help=f"with --on-the-fly (default {ON_THE_FLY_SAMPLES}) or an extra stage (default: "
                             "every sample; pretrain: 512 crops)")
    parser.add_argument("--validation-samples", type=int, default=400, help="with --on-the-fly")
    parser.add_argument("--crop-sizes", type=int, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="with --on-the-fly: forge sample sides (default: the crop size + 32 … + 160)")
    parser.add_argument("--workers", type=int, default=1, help="forge worker processes with --on-the-fly")
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--cosine", action="store_true", help="cosine learning-rate decay after warm-up")
    parser.add_argument("--patience", type=int, default=None,
                        help="stop after this many epochs without a better validation F1")
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
    from engines.engine import MAIN_STAGE
    from engines.training.job import TrainRequest, run_training

    request = TrainRequest(
        engine=args.engine, data=forge_source(args) if args.on_the_fly else args.data,
        out_dir=args.out, profile=args.profile,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        init_from_shipped=args.init == "shipped",
        init_weights=Path(args.init) if args.init not in (None, "shipped") else None,
        resume=not args.no_resume, max_minutes=args.max_minutes, overrides=tuple(args.overrides),
        warmup_steps=args.warmup_steps, cosine=args.cosine, patience=args.patience,
        stage=args.stage or MAIN_STAGE, samples_per_epoch=None if args.on_the_fly else args.samples_per_epoch,
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


def forge_source(args: argparse.Namespace):
    """The on-the-fly data of `--on-the-fly`: forge v2 over the photo folders, with sample sides a
    little above the training crop so that crops keep the photo's own pixel grid."""
    from engines.catalog import engine_class
    from engines.method_config import apply_overrides
    from engines.errors import WorkbenchError
    from engines.forge.config import ForgeConfig
    from engines.forge.stream import ForgeSource
    from engines.settings import get_settings

    cls = engine_class(args.engine)
    if not cls.trains_on_the_fly:
        raise WorkbenchError(f"{cls.title} trains on a dataset folder only (--data); make one with "
                             "`python -m engines forge`.")
    crop = apply_overrides(cls.profiles[args.profile or cls.default_profile], args.overrides).input_size
    settings = get_settings()
    photos = tuple(args.photos or (settings.photos_dir, *settings.extra_photo_dirs))
    sides = tuple(args.crop_sizes or (crop + 32, crop + 160))
    return ForgeSource(photo_dirs=photos, config=ForgeConfig(seed=args.seed, size_range=sides),
                       samples_per_epoch=args.samples_per_epoch or ON_THE_FLY_SAMPLES,
                       validation_samples=args.validation_samples, workers=args.workers)
