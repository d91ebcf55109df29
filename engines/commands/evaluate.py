"""`python -m engines evaluate --engine NAME --dataset DIR_OR_INDEX [--perturb jpeg=70] --json FILE`.

Images that cannot be used (unreadable, a mask of the wrong size, refused by the engine) are left
out of the metrics, listed on stderr and in the JSON; the exit status is 1 when more than
`--max-failed` of the images failed (default: any), so a batch script notices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engines.commands.common import add_engine_arguments

HELP = "evaluate one engine on a dataset (optionally perturbed) and write the metrics as JSON"
SUMMARY_KEYS = ("pixel_f1", "pixel_iou", "pixel_auc", "image_auc", "image_acc",
                "n_tampered", "n_authentic", "n_failed", "seconds_per_image")
MAX_LISTED_FAILURES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_engine_arguments(parser)
    parser.add_argument("--dataset", required=True, help="dataset folder, index.json, or a CSV/TXT list")
    parser.add_argument("--perturb", default=None, help="perturbation chain, e.g. jpeg=70 or resize=0.5+jpeg=80")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on a balanced subset of N samples")
    parser.add_argument("--include-authentic", action="store_true",
                        help="average pixel metrics over authentic images too")
    parser.add_argument("--maps", action="store_true",
                        help="also score each evidence map the engine returns (CLUE's branches and noise "
                             "levels: the branch ablation), written under \"maps\"")
    parser.add_argument("--seed", type=int, default=0, help="seed of random perturbations")
    parser.add_argument("--json", type=Path, required=True, help="where to write the metrics")
    parser.add_argument("--max-failed", type=_fraction, default=0.0, metavar="FRACTION",
                        help="tolerate up to this fraction of failed images, e.g. 0.05 (default 0: exit 1 "
                             "when any image failed)")


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from engines.catalog import get_engine
    from engines.data.datasets import open_dataset
    from engines.evaluation.evaluate import evaluate, finite_or_none
    from engines.data.perturb import parse_chain

    dataset = open_dataset(args.dataset)
    if args.limit is not None:
        dataset = dataset.subset(args.limit)
    chain = parse_chain(args.perturb) if args.perturb else None
    engine = get_engine(args.engine, args.profile, args.device, args.weights)

    def progress(index: int, total: int, name: str) -> None:
        if index % 50 == 0:
            print(f"[{index}/{total}] {name}", file=sys.stderr, flush=True)

    report = evaluate(engine, dataset, chain, seed=args.seed, include_authentic=args.include_authentic,
                      score_maps=args.maps, progress=progress)
    payload = {k: finite_or_none(v) for k, v in report.to_dict().items()}
    if args.maps:
        payload["maps"] = {name: {k: finite_or_none(v) for k, v in metrics.items()}
                           for name, metrics in payload["maps"].items()}
    payload["per_image"] = [{k: finite_or_none(v) for k, v in r.items()} for r in payload["per_image"]]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(json.dumps({k: finite_or_none(report.metrics.get(k)) for k in SUMMARY_KEYS}))
    return _report_failures(report.records, args.max_failed)


def _report_failures(records: list, max_failed: float) -> int:
    """List the failed images on stderr; 1 when their share is above `max_failed`."""
    failed = [r for r in records if r.error is not None]
    for record in failed[:MAX_LISTED_FAILURES]:
        print(f"failed {record.image}: {record.error}", file=sys.stderr)
    if len(failed) > MAX_LISTED_FAILURES:
        print(f"… and {len(failed) - MAX_LISTED_FAILURES} more (all in the JSON's per_image rows)", file=sys.stderr)
    if not failed:
        return 0
    share = len(failed) / len(records)
    verdict = "above" if share > max_failed else "within"
    print(f"{len(failed)} of {len(records)} image(s) failed ({share:.0%}), {verdict} the tolerated "
          f"{max_failed:.0%} (--max-failed)", file=sys.stderr)
    return 1 if share > max_failed else 0
