"""Speed and memory: model load time, seconds per image at several sizes and peak memory, per
engine, profile and device.

    python bench/speed.py --sizes 256 512 1024 --repeats 3 --out runs/bench/speed

(`--engines` defaults to every registered engine, `--profiles` to each engine's profiles.) Each
engine × profile × device runs in a fresh subprocess (this script with `--worker`), so that its
memory is its own: the RSS before loading (Python, torch and the engine package imported) and
the peak RSS so far (VmHWM; see `peak_rss_mb` for why not `ru_maxrss`), the RSS and peak after
`Engine.load()` on a fresh instance, and the peak up to the end of each size (the peak during
analysis).
Inputs are square crops of a real photo resized to each size, written once as PNGs so that no
worker decodes the large photo; one warm-up analysis, then the median of `--repeats` timed ones
(wall time of `Engine.analyze`). On a machine with CUDA the GPU is measured too (batch 1), with
its peak allocated memory. Writes speed.json and speed.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from common import cpu_model, header_markdown, not_available, run_header, table_text, write_outputs
from engines.catalog import engine_class, engine_names
from engines.errors import WorkbenchError
from engines.data.imageio import load_image
from engines.settings import get_settings
from engines.data.synthetic import procedural_scene

RESULT_PREFIX = "SPEED-RESULT "
"""Marks the worker's result line on stdout, whatever else an engine prints."""


def default_photo() -> Path | None:
    photos = sorted(get_settings().photos_dir.rglob("*.jpg"))
    return photos[0] if photos else None


def square_input(photo: Path | None, size: int) -> np.ndarray:
    """The photo's centre square resized to size×size (a synthetic scene when there is no photo)."""
    if photo is None:
        return procedural_scene(0, size, size)
    rgb = load_image(photo).rgb
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = rgb[top:top + side, left:left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=interpolation))


def write_inputs(photo: Path | None, sizes: list[int], folder: Path) -> Path:
    """`input_<size>.png` for every size (lossless, so every worker analyses the same pixels)."""
    for size in sizes:
        cv2.imwrite(str(folder / f"input_{size}.png"), cv2.cvtColor(square_input(photo, size), cv2.COLOR_RGB2BGR))
    return folder


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (Linux) in MiB, or None where there is none."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def current_rss_mb() -> float:
    rss = _status_mb("VmRSS")
    return float("nan") if rss is None else rss


def peak_rss_mb() -> float:
    """This process's peak resident set so far.

    Linux's VmHWM, because `ru_maxrss` of a child started by `subprocess` also counts the
    parent's resident set at the fork (measured: a 13 MB child of an 800 MB parent reports
    813 MB); elsewhere `ru_maxrss` (KiB on Linux and BSD).
    """
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(engine_name: str, profile: str, device: str, sizes: list[int], repeats: int,
            inputs: Path) -> dict[str, Any]:
    """Load a fresh engine instance and time it; meant to run alone in its process (see `run_worker`)."""
    result: dict[str, Any] = {"engine": engine_name, "profile": profile, "device": device,
                              "torch_threads": torch.get_num_threads(),
                              "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda")
                              else cpu_model()}
    start = time.perf_counter()
    cls = engine_class(engine_name)
    result["import_seconds"] = time.perf_counter() - start
    result["rss_before_load_mb"] = current_rss_mb()
    result["peak_rss_before_load_mb"] = peak_rss_mb()
    try:
        engine = cls(profile=profile, device=device)
        start = time.perf_counter()
        engine.load()
        _synchronize(device)
        result["load_seconds"] = time.perf_counter() - start
    except WorkbenchError as error:
        return {**result, "error": not_available(error)}
    result["rss_after_load_mb"] = current_rss_mb()
    result["peak_rss_after_load_mb"] = peak_rss_mb()
    result["sizes"] = []
    for size in sizes:
        rgb = load_image(inputs / f"input_{size}.png").rgb
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        engine.analyze(rgb)
        seconds = []
        for _ in range(repeats):
            _synchronize(device)
            start = time.perf_counter()
            engine.analyze(rgb)
            _synchronize(device)
            seconds.append(time.perf_counter() - start)
        entry = {"size": size, "seconds_median": statistics.median(seconds), "seconds": seconds,
                 "peak_rss_mb": peak_rss_mb()}
        if device.startswith("cuda"):
            entry["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        result["sizes"].append(entry)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_worker(engine_name: str, profile: str, device: str, sizes: list[int], repeats: int,
               inputs: Path, timeout: float) -> dict[str, Any]:
    """`measure` in a fresh Python process; a crash or timeout is reported, not raised."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--engines", engine_name,
               "--profiles", profile, "--device", device, "--sizes", *map(str, sizes),
               "--repeats", str(repeats), "--inputs", str(inputs)]
    failed = {"engine": engine_name, "profile": profile, "device": device}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"failed: no result within {timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {**failed, "error": f"failed (exit {done.returncode}): {last}"}


MEMORY_COLUMNS = {
    "rss_before_load_mb": "RSS before load MB",
    "peak_rss_before_load_mb": "peak RSS before load MB",
    "rss_after_load_mb": "RSS after load MB",
    "peak_rss_after_load_mb": "peak RSS load MB",
}


def markdown_table(rows: list[dict[str, Any]], sizes: list[int]) -> str:
    gpu = any(row["device"].startswith("cuda") for row in rows)
    columns = ["engine", "profile", "device", "threads", "load s", *MEMORY_COLUMNS.values(),
               *[f"s/image @{s}" for s in sizes], "peak RSS MB"] + (["peak GPU MB"] if gpu else [])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        device = row["device"]
        if device.startswith("cuda"):
            device += f" ({row.get('device_name', 'GPU')})"
        cells = [row["engine"], row["profile"], device]
        if "error" in row:
            cells += [table_text(row["error"])] + [""] * (len(columns) - 4)
        else:
            per_size = {entry["size"]: entry for entry in row["sizes"]}
            cells += [str(row["torch_threads"]), f"{row['load_seconds']:.2f}"]
            cells += [f"{row[key]:.0f}" for key in MEMORY_COLUMNS]
            cells += [f"{per_size[s]['seconds_median']:.3f}" if s in per_size else "n/a" for s in sizes]
            cells.append(f"{row['peak_rss_mb']:.0f}")
            if gpu:
                cells.append(f"{max((e.get('peak_gpu_mb', 0.0) for e in row['sizes']), default=0.0):.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=engine_names())
    parser.add_argument("--profiles", nargs="+", default=None, help="default: every profile of each engine")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=default_photo(), help="default: the first shared photo")
    parser.add_argument("--no-photo", action="store_true", help="use a synthetic scene instead of a photo")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per engine × profile × device")
    parser.add_argument("--device", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        result = measure(args.engines[0], args.profiles[0], args.device, args.sizes, args.repeats, args.inputs)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    if args.out is None:
        parser.error("--out is required")
    photo = None if args.no_photo else args.photo
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    header = run_header()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        inputs = write_inputs(photo, args.sizes, Path(folder))
        for engine_name in args.engines:
            for profile in args.profiles or list(engine_class(engine_name).profiles):
                for device in devices:
                    print(f"{engine_name} {profile} {device} ...", file=sys.stderr, flush=True)
                    rows.append(run_worker(engine_name, profile, device, args.sizes, args.repeats, inputs,
                                           args.timeout))
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    table = markdown_table(rows, args.sizes)
    payload = {**header, "photo": str(photo) if photo else "synthetic scene", "repeats": args.repeats,
               "sizes": args.sizes, "rows": rows}
    write_outputs(args.out, "speed", payload, f"{header_markdown(header)}\n\nInput: {payload['photo']} "
                  f"(centre square, resized); median of {args.repeats} runs after one warm-up.\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
