"""`python -m engines analyze IMAGE… --engine NAME --out DIR`.

Each image stands alone: one that cannot be read or that the engine refuses is reported and the
others are still analysed; the exit status is 1 when any image failed (2 for a usage error such as
an unknown engine), with a summary on stderr at the end.
"""

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
    from engines.errors import WorkbenchError
    from engines.data.imageio import load_image
    from engines.reports.report import write_report

    engine = get_engine(args.engine, args.profile, args.device, args.weights)
    failed: list[Path] = []
    for path in args.images:
        try:
            image = load_image(path)
            analysis = engine.analyze(image)
            files = write_report(image, analysis, args.out, path.stem)
        except WorkbenchError as exc:
            print(f"failed {path}: {exc}", file=sys.stderr, flush=True)
            failed.append(path)
            continue
        print(json.dumps({"image": str(path), "score": round(analysis.score, 4),
                          "mask_fraction": round(float(analysis.mask.mean()), 4),
                          "report": str(files["html"])}), flush=True)
    done = len(args.images) - len(failed)
    summary = f"analysed {done} of {len(args.images)} image(s) with {engine.name}"
    if failed:
        summary += f"; {len(failed)} failed: {', '.join(str(p) for p in failed)}"
    print(summary, file=sys.stderr)
    return 1 if failed else 0
