"""What each engine says about a small fixed sample of CASIA v1: how many authentic images it
calls "likely manipulated", under the old wording (score ≥ 0.5) and under `engines.verdict`.

    python bench/verdict_sample.py --out runs/bench/verdicts            # analyse, then tabulate
    python bench/verdict_sample.py --out runs/bench/verdicts --table-only   # tabulate saved scores

The sample is `ForgeryDataset.subset(40)` of the benchmark: its first 20 tampered and first 20
authentic images in index order. Per image and engine the scores, class and weights are saved in
scores.json, so the table can be redone (e.g. after a change of the verdict rules) without
analysing again; rerun without `--table-only` after the weights change. Writes verdicts.json and
verdicts.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common import header_markdown, not_available, run_header, write_outputs
from engines.catalog import engine_names, get_engine
from engines.data.datasets import open_dataset
from engines.errors import WorkbenchError
from engines.settings import get_settings
from engines.verdict import LIKELY_MANIPULATED, load_reliability, verdict_for

OLD_CUT = 0.5
"""The fixed cut the app used before `engines.verdict`: score ≥ 0.5 read "likely manipulated"."""


def analyse_sample(engine_name: str, dataset: Any) -> dict[str, Any]:
    """Every sample's score, class and mask area, and the provenance that matters for a verdict."""
    try:
        engine = get_engine(engine_name)
        engine.load()
    except WorkbenchError as error:
        return {"error": not_available(error)}
    rows, provenance = [], None
    for index, sample in enumerate(dataset):
        image, _ = dataset.load(index)
        analysis = engine.analyze(image, explain=False)
        provenance = analysis.provenance
        rows.append({"image": sample.image.name, "tampered": sample.tampered, "score": analysis.score,
                     "label": analysis.label, "mask_fraction": float(analysis.mask.mean())})
        print(f"{engine_name} {index + 1}/{len(dataset)} {sample.image.name} {analysis.score:.3f}",
              file=sys.stderr, flush=True)
    return {"profile": provenance.profile, "weights": provenance.weights,
            "calibration": provenance.parameters.get("calibration"), "images": rows}


def tabulate(scores: dict[str, Any]) -> list[dict[str, Any]]:
    """Per engine: "likely manipulated" counts on authentic and tampered images, old and new."""
    table = load_reliability()
    rows = []
    for engine_name, result in scores["engines"].items():
        if "error" in result:
            rows.append({"engine": engine_name, "error": result["error"]})
            continue
        row: dict[str, Any] = {"engine": engine_name, "profile": result["profile"],
                               "calibrated": result["calibration"] is not None}
        for kind, tampered in (("authentic", False), ("tampered", True)):
            images = [image for image in result["images"] if image["tampered"] == tampered]
            verdicts = [verdict_for(engine_name, result["profile"], result["weights"], image["score"],
                                    result["calibration"], table).band for image in images]
            row[f"n_{kind}"] = len(images)
            row[f"old_likely_{kind}"] = sum(image["score"] >= OLD_CUT for image in images)
            row[f"new_likely_{kind}"] = verdicts.count(LIKELY_MANIPULATED)
            row[f"new_bands_{kind}"] = {band: verdicts.count(band) for band in sorted(set(verdicts))}
        rows.append(row)
    return rows


def _before_after(row: dict[str, Any], kind: str) -> str:
    return f"{row[f'old_likely_{kind}']}/{row[f'n_{kind}']} → {row[f'new_likely_{kind}']}/{row[f'n_{kind}']}"


def markdown(header: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [header_markdown(header), "",
             "| engine | calibrated | authentic called likely manipulated: before → after | "
             "tampered called likely manipulated: before → after | after, authentic | after, tampered |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['engine']} | {row['error']} | | | | |")
            continue
        bands = {kind: ", ".join(f"{band} {count}" for band, count in row[f"new_bands_{kind}"].items())
                 for kind in ("authentic", "tampered")}
        lines.append(
            f"| {row['engine']} | {'yes' if row['calibrated'] else 'no'} | "
            f"{_before_after(row, 'authentic')} | {_before_after(row, 'tampered')} | "
            f"{bands['authentic']} | {bands['tampered']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=engine_names())
    parser.add_argument("--dataset", default="casia1", help="a folder of the benchmarks directory")
    parser.add_argument("--per-kind", type=int, default=20, help="images of each kind (tampered, authentic)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--table-only", action="store_true", help="tabulate the scores saved in --out")
    args = parser.parse_args()
    scores_path = args.out / "scores.json"
    if args.table_only:
        scores = json.loads(scores_path.read_text())
    else:
        dataset = open_dataset(get_settings().benchmarks_dir / args.dataset).subset(2 * args.per_kind)
        scores = {"header": run_header(), "dataset": args.dataset, "engines": {}}
        args.out.mkdir(parents=True, exist_ok=True)
        for name in args.engines:
            scores["engines"][name] = analyse_sample(name, dataset)
            scores_path.write_text(json.dumps(scores, indent=2))  # what is done survives a later failure
    rows = tabulate(scores)
    text = markdown(scores["header"], rows)
    write_outputs(args.out, "verdicts", {"header": scores["header"], "rows": rows}, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
