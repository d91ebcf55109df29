"""`python -m engines pretrain --photos DIR --out DIR …`: DiffForensics stage 1 (resumable).

Self-supervised denoising pretraining of the DiffForensics decoder on unlabelled photos; its
weights then initialise stage 2: `python -m engines train --engine diffforensics --init
OUT/weights.safetensors …`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engines.commands.stage_run import add_run_arguments, fit_and_export

HELP = "DiffForensics stage 1: denoising pretraining of the decoder on unlabelled photos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--photos", required=True, type=Path, help="folder of real photographs (searched recursively)")
    parser.add_argument("--profile", default="compact", help="compact (default) or full")
    parser.add_argument("--noise", choices=("simplex", "gaussian"), default="simplex",
                        help="noise of the forward process (gaussian: the vanilla-DDPM ablation)")
    parser.add_argument("--crops-per-epoch", type=int, default=512)
    add_run_arguments(parser, epochs=10, lr=1e-3, batch_size=8)


def run(args: argparse.Namespace) -> int:
    from engines.diffforensics.config import get_config
    from engines.diffforensics.pretrain import make_pretrainer

    def loading(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"loading photos {done}/{total}", file=sys.stderr, flush=True)

    trainer = make_pretrainer(get_config(args.profile), args.photos, args.noise, args.crops_per_epoch,
                              args.batch_size, args.seed, loading)
    return fit_and_export(trainer, args, noise=args.noise)
