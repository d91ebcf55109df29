"""Where the evidence goes with the input size: the same trained weights analysed at other sizes.

    nice -n 10 python bench/resolution_curve.py --engine detective_sam \
        --variant 128:input_size=128 --variant 192:input_size=192 --variant 256:input_size=256 \
        --dataset ../shared/data/benchmarks/coverage --limit 60 --out runs/bench/resolution

Each variant is `KEY=VALUE` settings (as `train --set`) applied to the configuration the weights
carry, so the trained parts stay the same and only what the frozen encoders see changes. The
calibrated threshold and score map of the weights are kept. Writes one JSON of every variant's
metrics (pixel F1, pixel AUC, image AUC, seconds per image) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common import header_markdown, run_header
from engines.catalog import engine_class
from engines.clue.build import build_clue
from engines.data.datasets import open_dataset
from engines.evaluation.evaluate import evaluate, finite_or_none
from engines.method_config import apply_overrides
from engines.store.model_store import file_sha256
from engines.store.trained_weights import load_trainable

COLUMNS = ("pixel_f1", "pixel_iou", "pixel_auc", "pixel_f1_best_oracle", "image_auc", "seconds_per_image")


def variant_engine(name: str, assignments: list[str], weights: str | None):
    """An engine of `name` whose trained configuration gets `assignments` before it is built."""
    base = engine_class(name)

    class Variant(base):  # type: ignore[misc, valid-type]
        def trained_config(self, weights_path: Path) -> Any:
            return apply_overrides(super().trained_config(weights_path), assignments)

    class CLUEVariant(Variant):
        """CLUE's loader refuses weights whose stored configuration differs from the model's, as
        a guard against mixing weights; here the difference is the point, so the trained parts
        are loaded (strictly, by name and shape) into the model built at the variant's sizes."""

        def _build(self) -> Any:
            path = self.trained_weights()
            model = build_clue(self.trained_config(path))
            load_trainable(model, path)
            self._weights_sha256 = {path.name: file_sha256(path)}
            return model.to(self.device).eval()

    return (CLUEVariant if name == "clue" else Variant)(weights=weights, device="cpu")


def parse_variant(text: str) -> tuple[str, list[str]]:
    label, sep, settings = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: write LABEL:KEY=VALUE[,KEY=VALUE...]")
    return label, [s for s in settings.split(";") if s]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--variant", type=parse_variant, action="append", required=True,
                        help="LABEL:KEY=VALUE[;KEY=VALUE...], e.g. 192:input_size=192")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--limit", type=int, default=None, help="balanced subset of N samples")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    dataset = open_dataset(args.dataset)
    if args.limit is not None:
        dataset = dataset.subset(args.limit)
    rows = []
    for label, assignments in args.variant:
        engine = variant_engine(args.engine, assignments, args.weights)
        metrics = evaluate(engine, dataset).metrics
        rows.append({"variant": label, "settings": assignments,
                     **{key: finite_or_none(metrics[key]) for key in (*COLUMNS, "n_tampered", "n_authentic",
                                                                       "pixel_threshold", "weights")}})
        print(json.dumps(rows[-1]), flush=True)
    header = run_header()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.engine}_{Path(args.dataset).name}.json"
    path.write_text(json.dumps({"header": header, "dataset": args.dataset, "limit": args.limit, "rows": rows},
                               indent=2))
    print(header_markdown(header))
    print("| variant | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for row in rows:
        cells = [f"{row[key]:.3f}" if isinstance(row[key], float) else str(row[key]) for key in COLUMNS]
        print(f"| {row['variant']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
