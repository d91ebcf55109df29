"""`python -m engines analyze IMAGE… --engine NAME --out DIR`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engines.commands.common import add_engine_arguments

HELP = "analyse images with one engine and write overlays, masks, maps, JSON and an HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files")
    add_engine_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from engines.catalog import get_engine
    from engines.errors import ImageInputError
    from engines.imageio import load_image
    from engines.report import write_report

    engine = get_engine(args.engine, args.profile, args.device, args.weights)
    failures = 0
    for path in args.images:
        try:
            image = load_image(path)
        except ImageInputError as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            failures += 1
            continue
        analysis = engine.analyze(image)
        files = write_report(image, analysis, args.out, path.stem)
        print(json.dumps({"image": str(path), "score": round(analysis.score, 4),
                          "mask_fraction": round(float(analysis.mask.mean()), 4),
                          "report": str(files["html"])}))
    return 1 if failures else 0
