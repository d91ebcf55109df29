"""Peak memory of one analysis per engine at 1, 12, 24 and 64 megapixels, under the memory budget
(`engines.data.memory_budget`), and the calibration that budget is planned from.

    nice -n 10 python bench/memory.py --out runs/bench/memory                 # the table
    nice -n 10 python bench/memory.py --calibrate --sizes 1 4 --write-asset   # assets/memory.json

Every engine × size runs in a fresh process (this script with `--worker`): the engine is loaded,
the process's peak resident set is reset (`/proc/self/clear_refs`), then the JPEG is decoded and
analysed with `Engine.analyze`; the analysis' peak is VmHWM − the RSS after loading, the process
peak is VmHWM itself. Inputs are a shared photo resized to each size (4:3, JPEG quality 92),
written once by this process. `--calibrate` runs with the budget off (FORGERY_MEMORY_BUDGET_MB=0)
and fits, per engine and profile, the result's own arrays per megapixel (measured from the
result) and a line through the analysis peaks at two sizes: its slope less the result's arrays is
the working memory per megapixel, its intercept the fixed part.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from common import header_markdown, not_available, run_header, table_text, write_outputs
from speed import current_rss_mb, default_photo, peak_rss_mb
from engines.catalog import engine_class, engine_names
from engines.errors import WorkbenchError
from engines.data.imageio import load_image
from engines.data.memory_budget import MEMORY_FILE, budget_mb
from engines.settings import get_settings
from engines.data.synthetic import procedural_scene

RESULT_PREFIX = "MEMORY-RESULT "
MB = 2**20


def size_for(megapixels: float) -> tuple[int, int]:
    """(width, height) at 4:3 with at most `megapixels`."""
    height = int(math.sqrt(megapixels * 1e6 * 3 / 4))
    return int(height * 4 / 3), height


def write_input(photo: Path | None, megapixels: float, folder: Path) -> Path:
    width, height = size_for(megapixels)
    rgb = load_image(photo).rgb if photo else procedural_scene(0, 1024, 768)
    path = folder / f"input_{megapixels:g}mp.jpg"
    resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(path), cv2.cvtColor(resized, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def reset_peak() -> None:
    """Linux: make VmHWM start again from the current RSS (writing 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def measure(engine_name: str, profile: str, image_path: Path) -> dict[str, Any]:
    """Load the engine, then decode and analyse one image; meant to run alone in its process."""
    result: dict[str, Any] = {"engine": engine_name, "profile": profile}
    try:
        engine = engine_class(engine_name)(profile=profile, device="cpu")
        engine.load()
    except WorkbenchError as error:
        return {**result, "error": not_available(error)}
    loaded_rss = current_rss_mb()
    reset_peak()
    start = time.perf_counter()
    try:
        image = load_image(image_path)
        analysis = engine.analyze(image)
    except WorkbenchError as error:
        return {**result, "error": f"refused: {error}", "peak_process_mb": peak_rss_mb(),
                "peak_analysis_mb": peak_rss_mb() - loaded_rss}
    seconds = time.perf_counter() - start
    megapixels = image.width * image.height / 1e6
    arrays = analysis.heatmap.nbytes + analysis.mask.nbytes + sum(m.nbytes for m in analysis.maps.values())
    working = analysis.provenance.parameters.get("working_copy")
    return {**result, "width": image.width, "height": image.height, "megapixels": megapixels,
            "rss_after_load_mb": loaded_rss, "peak_process_mb": peak_rss_mb(),
            "peak_analysis_mb": peak_rss_mb() - loaded_rss, "output_mb": arrays / MB,
            "seconds": seconds, "working_copy": f"{working['width']}×{working['height']}" if working else None}


def run_worker(engine_name: str, profile: str, image: Path, timeout: float, budget: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine_name, profile, str(image)]
    failed = {"engine": engine_name, "profile": profile, "input": image.name}
    environment = {**os.environ, "FORGERY_MEMORY_BUDGET_MB": str(budget)}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"not measured: no result within {timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return {**json.loads(line[len(RESULT_PREFIX):]), "input": image.name}
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {**failed, "error": f"failed (exit {done.returncode}): {last}"}


def fit_costs(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per engine/profile: arrays, working memory and fixed part (MB) from the two smallest sizes."""
    costs = {}
    for key in sorted({f"{r['engine']}/{r['profile']}" for r in rows if "error" not in r}):
        measured = sorted((r for r in rows if f"{r['engine']}/{r['profile']}" == key and "error" not in r),
                          key=lambda r: r["megapixels"])
        if len(measured) < 2:
            continue
        small, large = measured[0], measured[-1]
        slope = (large["peak_analysis_mb"] - small["peak_analysis_mb"]) / (large["megapixels"] - small["megapixels"])
        output = max(r["output_mb"] / r["megapixels"] for r in measured)
        costs[key] = {"output_mb_per_mp": round(output, 2), "working_mb_per_mp": round(max(slope - output, 1.0), 2),
                      "fixed_mb": round(max(small["peak_analysis_mb"] - slope * small["megapixels"], 0.0), 1)}
    return costs


def markdown_table(rows: list[dict[str, Any]], sizes: list[float]) -> str:
    columns = ["engine", "profile"] + [f"{s:g} MP: peak analysis / process MB, s" for s in sizes]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for key in dict.fromkeys((r["engine"], r["profile"]) for r in rows):
        cells = list(key)
        for size in sizes:
            name = f"input_{size:g}mp.jpg"
            row = next((r for r in rows if (r["engine"], r["profile"]) == key and r["input"] == name), None)
            if row is None:
                cells.append("not run")
            elif "error" in row:
                cells.append(table_text(row["error"]))
            else:
                copy = f" (working copy {row['working_copy']})" if row["working_copy"] else ""
                cells.append(f"{row['peak_analysis_mb']:.0f} / {row['peak_process_mb']:.0f}, {row['seconds']:.0f} s{copy}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=engine_names())
    parser.add_argument("--sizes", nargs="+", type=float, default=[1, 12, 24, 64], help="megapixels")
    parser.add_argument("--skip", nargs="*", default=[], metavar="ENGINE:MP",
                        help="cases not run (e.g. an engine whose time at a size is many minutes)")
    parser.add_argument("--photo", type=Path, default=default_photo())
    parser.add_argument("--timeout", type=float, default=900, help="seconds per case")
    parser.add_argument("--calibrate", action="store_true", help="budget off; fit the cost model")
    parser.add_argument("--write-asset", action="store_true", help=f"with --calibrate: write assets/{MEMORY_FILE}")
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "PROFILE", "IMAGE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/memory"))
    args = parser.parse_args()
    if args.worker:
        engine_name, profile, image = args.worker
        print(RESULT_PREFIX + json.dumps(measure(engine_name, profile, Path(image))), flush=True)
        return 0
    budget = 0.0 if args.calibrate else budget_mb()
    header = run_header()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        inputs = {size: write_input(args.photo, size, Path(folder)) for size in args.sizes}
        for engine_name in args.engines:
            profile = engine_class(engine_name).default_profile
            for size, image in inputs.items():
                if f"{engine_name}:{size:g}" in args.skip:
                    continue
                print(f"{engine_name} {profile} {size:g} MP ...", file=sys.stderr, flush=True)
                rows.append(run_worker(engine_name, profile, image, args.timeout, budget))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    table = markdown_table(rows, args.sizes)
    payload = {**header, "photo": str(args.photo), "budget_mb": budget, "sizes_mp": args.sizes, "rows": rows}
    stem = "memory_calibration" if args.calibrate else "memory"
    if args.calibrate:
        payload["costs"] = fit_costs(rows)
        if args.write_asset:
            asset = {"about": "Measured by bench/memory.py --calibrate (budget off, a fresh process per case); "
                              "read by engines.data.memory_budget.", "written": header, "costs": payload["costs"]}
            (get_settings().assets_dir / MEMORY_FILE).write_text(json.dumps(asset, indent=2) + "\n")
    budget_line = f"memory budget {budget:.0f} MB" if budget > 0 else "memory budget off"
    write_outputs(args.out, stem, payload, f"{header_markdown(header)}\n\nInput: {args.photo} resized "
                  f"(4:3, JPEG 92); {budget_line}.\n\n{table}")
    print(table)
    if args.calibrate:
        print(json.dumps(payload["costs"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
