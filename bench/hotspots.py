"""Where each engine spends its time: cProfile of `Engine.analyze` on one photo. Steps: the
project's own functions (in `engines/`) by cumulative time, leaving out the engine wrappers
(`engine.py`: `analyze`, `_run`) that contain all of it, so the slowest step is named;
operators: what has the most time of its own (torch/OpenCV calls appear as the built-in that ran
them).

    python bench/hotspots.py --size 512 --top 4 --out runs/bench/hotspots

(`--engines` defaults to every registered engine.) The model is loaded and one warm-up analysis
run before profiling, so the numbers are per analysis, not model loading. Writes hotspots.json
and hotspots.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path
from typing import Any

from common import header_markdown, not_available, run_header, table_text, write_outputs
from speed import default_photo, square_input

from engines.catalog import engine_names, get_engine
from engines.errors import WorkbenchError


PACKAGE = "/engines/"
WRAPPER_FILE = "engine.py"


def hotspots(engine_name: str, rgb: Any, top: int) -> dict[str, Any]:
    engine = get_engine(engine_name)
    engine.analyze(rgb)
    profiler = cProfile.Profile()
    profiler.enable()
    engine.analyze(rgb)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = [{"function": f"{Path(filename).name}:{line}({function})",
             "project": PACKAGE in filename and Path(filename).name != WRAPPER_FILE,
             "calls": calls, "own_seconds": own, "cumulative_seconds": cumulative}
            for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items()]
    steps = sorted((r for r in rows if r["project"]),
                   key=lambda r: r["cumulative_seconds"], reverse=True)
    operators = sorted(rows, key=lambda r: r["own_seconds"], reverse=True)
    return {"engine": engine_name, "profile": engine.profile, "seconds": total,
            "steps": steps[:top], "operators": operators[:top]}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| engine | s/analysis (profiled) | kind | function | seconds | share |",
             "|---|---|---|---|---|---|"]
    for result in results:
        if "error" in result:
            lines.append(f"| {result['engine']} | – | – | {table_text(result['error'])} | – | – |")
            continue
        for kind, key, seconds in (("step", "steps", "cumulative_seconds"), ("operator", "operators", "own_seconds")):
            for row in result[key]:
                lines.append(f"| {result['engine']} ({result['profile']}) | {result['seconds']:.2f} | {kind} | "
                             f"`{row['function']}` | {row[seconds]:.3f} | {row[seconds] / result['seconds']:.0%} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=engine_names())
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    header = run_header()
    rgb = square_input(default_photo(), args.size)
    results = []
    for name in args.engines:
        try:
            results.append(hotspots(name, rgb, args.top))
        except WorkbenchError as exc:
            results.append({"engine": name, "error": not_available(exc)})
        print(f"{name} done", file=sys.stderr, flush=True)
    table = markdown(results)
    write_outputs(args.out, "hotspots", {**header, "size": args.size, "results": results},
                  f"{header_markdown(header)}\n\nOne {args.size}×{args.size} photo; cProfile own time "
                  f"(torch operators count as the Python call that launched them).\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
