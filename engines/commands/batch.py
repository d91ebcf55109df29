"""`python -m engines batch INPUT --engines NAME [NAME …] --out DIR` on Ray Data.

INPUT is a folder (searched recursively), a glob (quote it), an image, or a dataset (folder with
index.json or tampered/ + authentic/, an index .json, a CSV/TXT list). DIR gets `rows/*.parquet`
(one row per image and engine, `engines.batch.schema`) and `summary.json`; a rerun skips images
that already have a row for the same engine and weights. Exit status: 0 when every row is a
result, 1 when some images failed (their rows carry the error), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engines.catalog import engine_names

HELP = "analyse a collection with several engines on Ray Data into a resumable Parquet table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="folder, quoted glob, image, dataset folder, index .json or CSV/TXT list")
    parser.add_argument("--engines", nargs="+", required=True, metavar="NAME", help=f"any of: {', '.join(engine_names())}")
    parser.add_argument("--out", type=Path, required=True, help="output folder (Parquet rows, summary)")
    parser.add_argument("--profile", default=None, help="compact (default) or full, for every engine")
    parser.add_argument("--weights", default=None, help="a trained checkpoint (with a single engine)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    parser.add_argument("--workers", type=int, default=None, help="workers per engine (default: one per CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads and CPUs per worker (default: CPUs / workers)")
    parser.add_argument("--batch-size", type=int, default=8, help="images a worker takes at a time")
    parser.add_argument("--ray-address", default=None,
                        help="join this Ray cluster (e.g. ray://head:10001 or auto); default: local, no set-up")
    parser.add_argument("--reports", action="store_true", help="also write each image's report bundle")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")


def run(args: argparse.Namespace) -> int:
    from engines.batch.inputs import collect_inputs
    from engines.batch.runner import BatchRequest, run_batch
    from engines.catalog import engine_class
    from engines.errors import WorkbenchError

    for name in args.engines:
        engine_class(name)
    if args.weights and len(args.engines) > 1:
        raise WorkbenchError("--weights names one checkpoint: give it with a single engine.")
    inputs = collect_inputs(args.input)[:args.limit]
    request = BatchRequest(inputs=tuple(inputs), engines=tuple(args.engines), out_dir=args.out.resolve(),
                           profile=args.profile, weights=args.weights, device=args.device, workers=args.workers,
                           threads=args.threads, ray_address=args.ray_address, reports=args.reports,
                           batch_size=args.batch_size)
    print(f"{len(inputs)} image(s) × {len(args.engines)} engine(s) → {request.out_dir}", file=sys.stderr, flush=True)
    shown = {"line": ""}

    def progress(done: int, total: int, line: str) -> None:
        if line != shown["line"]:
            shown["line"] = line
            print(line, file=sys.stderr, flush=True)

    summary = run_batch(request, progress=progress)
    print(json.dumps(summary.to_dict()))
    return 1 if summary.errors else 0
