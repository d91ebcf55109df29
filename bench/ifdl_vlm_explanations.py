"""IFDL-VLM with explanations on real images: contradictions between class, mask and text, and
where the seconds go.

    python bench/ifdl_vlm_explanations.py --images 200 --out runs/bench/ifdl_vlm_explanations

The images are the first N of CASIA v1's balanced order (`ForgeryDataset.subset`: tampered and
authentic alternate). The engine is loaded once (its load time is reported separately); every
image is then analysed with its explanation, wall time split into the model-written lines (each
`Explainer.continue_line` call: Type, then Tampered content) and the rest (stage 1, the evidence
measurements, composing and checking). Contradictions are counted by re-running
`engines.ifdl_vlm.explanation_check.explanation_problems` on every text with the class and region
shown beside it, and by checking that a tampered class never comes with an empty mask.
Writes ifdl_vlm_explanations.json and .md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from common import header_markdown, run_header, write_outputs
from engines.catalog import get_engine
from engines.data.datasets import open_dataset
from engines.ifdl_vlm.explanation_check import explanation_problems
from engines.settings import get_settings


def timed_lines(model: Any, seconds: list[float]) -> None:
    """Record the wall time of every model-written line into `seconds`."""
    original = model.explainer.continue_line

    def continue_line(prompt: Any, so_far: str) -> str:
        start = time.perf_counter()
        try:
            return original(prompt, so_far)
        finally:
            seconds.append(time.perf_counter() - start)

    model.explainer.continue_line = continue_line


def measure(args: argparse.Namespace) -> dict[str, Any]:
    engine = get_engine("ifdl_vlm")
    start = time.perf_counter()
    model = engine.load()
    load_s = time.perf_counter() - start
    lines: list[float] = []
    timed_lines(model, lines)
    rows = []
    for sample in open_dataset(args.dataset).subset(args.images):
        before = len(lines)
        start = time.perf_counter()
        result = engine.analyze(str(sample.image))
        total = time.perf_counter() - start
        region = result.evidence.get("region")
        problems = explanation_problems(result.text or "", result.label, region)
        if result.label == "tampered" and not result.mask.any():
            problems.append("tampered class with an empty mask")
        rows.append({"image": sample.image.name, "tampered": sample.tampered, "label": result.label,
                     "score": result.score, "seconds": total, "line_seconds": lines[before:],
                     "problems": problems, "text": result.text})
        print(f"{len(rows)}/{args.images} {sample.image.name} {result.label} {total:.2f} s {problems or ''}", flush=True)
    return {**run_header(), "images": len(rows), "load_s": load_s, "rows": rows}


def summary(result: dict[str, Any]) -> str:
    rows = result["rows"]
    seconds = [r["seconds"] for r in rows]
    line_times = [t for r in rows for t in r["line_seconds"]]
    rest = [r["seconds"] - sum(r["line_seconds"]) for r in rows]
    written = [r["seconds"] for r in rows if r["line_seconds"]]
    by_label = {label: sum(r["label"] == label for r in rows) for label in ("real", "fully synthetic", "tampered")}
    contradictions = sum(bool(r["problems"]) for r in rows)
    return "\n".join([
        header_markdown(result), "",
        f"{result['images']} CASIA v1 images ({sum(r['tampered'] for r in rows)} tampered) · classes "
        + ", ".join(f"{k} {v}" for k, v in by_label.items()) + f" · **contradictions: {contradictions}**", "",
        "| step | median s | max s |", "|---|---|---|",
        f"| engine load (once) | {result['load_s']:.1f} | — |",
        f"| stage 1, evidence, composing and checking (per image) | {statistics.median(rest):.2f} | {max(rest):.2f} |",
        f"| one model-written line ({len(line_times)} lines) | "
        + (f"{statistics.median(line_times):.2f} | {max(line_times):.2f} |" if line_times else "— | — |"),
        f"| **whole analysis with explanation (per image)** | **{statistics.median(seconds):.2f}** | {max(seconds):.2f} |",
        f"| whole analysis, images classed tampered ({len(written)}: the model writes two lines) | "
        + (f"{statistics.median(written):.2f} | {max(written):.2f} |" if written else "— | — |"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--dataset", type=Path, default=get_settings().benchmarks_dir / "casia1")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/ifdl_vlm_explanations"))
    args = parser.parse_args()
    result = measure(args)
    text = summary(result)
    write_outputs(args.out, "ifdl_vlm_explanations", result, text)
    print(text)


if __name__ == "__main__":
    main()
