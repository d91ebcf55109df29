"""`python -m engines forge --photos DIR --out DIR -n N [--types …] [--size PX] [--seed S]`,
or `python -m engines forge --gallery DIR` for the realism grids of docs/forge.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engines.forge.config import EDIT_TYPES

HELP = "synthesize forgeries with exact masks from a folder of real photos (training data)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--photos", type=Path, default=None,
                        help="folder of real photographs (default: ../shared/data/photos)")
    parser.add_argument("--out", type=Path, default=None, help="dataset folder to write")
    parser.add_argument("-n", type=int, default=None, help="number of samples (authentic included)")
    parser.add_argument("--types", nargs="+", default=list(EDIT_TYPES), metavar="TYPE",
                        help=f"edit types, from: {', '.join(EDIT_TYPES)} (default: all)")
    parser.add_argument("--forge-version", type=int, default=2, choices=(1, 2),
                        help="2 (default): native-resolution crops with a camera capture before and a "
                             "second save after the edit; 1: square crops resized to --size")
    parser.add_argument("--size", type=int, default=512, help="version 1: side of the square outputs in pixels")
    parser.add_argument("--size-range", type=int, nargs=2, default=(256, 1024), metavar=("MIN", "MAX"),
                        help="version 2: sample sides are drawn from this range (default 256 1024)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--authentic-ratio", type=float, default=0.5,
                        help="share of authentic samples (default 0.5)")
    parser.add_argument("--min-area", type=float, default=0.01, help="smallest mask area, fraction of the image")
    parser.add_argument("--max-area", type=float, default=0.5, help="largest mask area, fraction of the image")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    parser.add_argument("--inpaint-model", default=None,
                        help="full profile: a local diffusers inpainting pipeline folder used by 'regenerate' "
                             "instead of TAEF2 (slow without a GPU; use --workers 1 on a GPU)")
    parser.add_argument("--gallery", type=Path, default=None,
                        help="instead of a dataset, write one PNG grid per edit type to this folder")


def run(args: argparse.Namespace) -> int:
    from engines.errors import WorkbenchError
    from engines.forge.config import ForgeConfig
    from engines.forge.gallery import write_gallery
    from engines.forge.pipeline import generate_dataset
    from engines.settings import get_settings

    photos = args.photos or get_settings().photos_dir
    config = ForgeConfig(
        size=args.size,
        seed=args.seed,
        types=tuple(args.types),
        authentic_ratio=args.authentic_ratio,
        area_range=(args.min_area, args.max_area),
        inpaint_model=args.inpaint_model,
        version=args.forge_version,
        size_range=tuple(args.size_range),
    )
    if args.gallery is not None:
        for path in write_gallery(photos, args.gallery, config=config):
            print(path)
        return 0
    if args.out is None or args.n is None:
        raise WorkbenchError("forge needs --out DIR and -n N (or --gallery DIR).")

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"[{done}/{total}]", file=sys.stderr, flush=True)

    report = generate_dataset(photos, args.out, args.n, config, workers=args.workers,
                              overwrite=args.overwrite, progress=progress)
    print(report.summary())
    return 0 if report.written else 1
