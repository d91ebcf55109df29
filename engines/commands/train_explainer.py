"""`python -m engines train-explainer --data DIR --stage1 WEIGHTS --out DIR …`: IFDL-VLM stage 2.

Trains the explainer (projector + LoRA on the language model) on teacher explanations of a forge
dataset, on top of stage-1 weights from `python -m engines train --engine ifdl_vlm`; resumable.
`OUT/weights.safetensors` then holds both stages: the file the engine loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engines.commands.stage_run import add_run_arguments, fit_and_export, print_progress

HELP = "IFDL-VLM stage 2: train the explanation model on top of trained stage-1 weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="the dataset stage 1 was trained on (made by `forge`)")
    parser.add_argument("--stage1", type=Path, required=True, help="stage-1 weights.safetensors")
    parser.add_argument("--profile", default="compact", help="compact (default) or full")
    parser.add_argument("--samples-per-epoch", type=int, default=None, help="training samples per epoch (default: all)")
    add_run_arguments(parser, epochs=3, lr=1e-3, batch_size=4)


def run(args: argparse.Namespace) -> int:
    from engines.datasets import open_dataset
    from engines.ifdl_vlm.config import get_config
    from engines.ifdl_vlm.explainer_train import make_explainer_trainer

    trainer = make_explainer_trainer(get_config(args.profile), open_dataset(args.data), args.stage1,
                                     args.batch_size, args.seed, args.samples_per_epoch, print_progress)
    return fit_and_export(trainer, args)
