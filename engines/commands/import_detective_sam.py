"""`python -m engines import-detective-sam CHECKPOINT.pth [--params YAML] [--out FILE]`."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("check and import a released Detective SAM checkpoint (Gertlek/DetectiveSAM, with its "
        "_params.yaml) as safetensors for the full profile")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="the released .pth file")
    parser.add_argument("--params", type=Path, default=None, help="sidecar yaml (default: <stem>_params.yaml beside it)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: the model-store cache)")


def run(args: argparse.Namespace) -> int:
    from engines.detective_sam.import_official import import_official_checkpoint

    imported = import_official_checkpoint(args.checkpoint, args.out, args.params)
    print(f"imported {imported.source} (sha256 {imported.source_sha256[:12]}…) -> {imported.path}")
    print(f"use it with: python -m engines analyze IMAGE --engine detective_sam --profile full "
          f"--weights {imported.path} --out DIR")
    return 0
