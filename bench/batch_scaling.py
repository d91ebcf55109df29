"""Scaling of `python -m engines batch` on Ray Data: throughput with 1 and 2 local workers per
engine against the plain sequential loop, and memory per worker.

    nice -n 10 python bench/batch_scaling.py --engine diffforensics --images 1000 --out runs/bench/batch_scaling
    python bench/batch_scaling.py --report --out runs/bench/batch_scaling    # batch_scaling.md from the JSONs

One engine per run, in a fresh process. The images are the first N of CASIA v1's balanced order
(`ForgeryDataset.subset`: tampered and authentic alternate), scored against their masks as the
batch does. Every configuration does the same per-image work (`engines.batch.rows.analyse_row`:
hash, decode, analyse, verdict, mask RLE, F1) with one torch thread per worker:

- sequential: a plain loop in this process, before Ray is started; images/s over the loop,
  engine load excluded; peak RSS (VmHWM) of the process;
- Ray, W workers: `run_batch` into a fresh folder, local Ray already started (its start-up time
  is reported once); wall time from the call to the summary (actor start-up and engine loads
  included), and the steady rate between the first and the last batch that came back; peak RSS
  of each worker process (sampled every 0.2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import torch

from common import header_markdown, run_header, write_outputs
from engines.batch.inputs import BatchInput
from engines.batch.rows import analyse_row, file_sha256, weights_key
from engines.batch.runner import BatchRequest, run_batch, start_ray
from engines.catalog import get_engine
from engines.data.datasets import open_dataset
from engines.settings import get_settings
from engines.verdict import load_reliability

WORKER_TITLE = "MapWorker"
"""Ray names each actor process after its class; the batch workers' titles contain this."""


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def inputs_of(dataset: Path, count: int) -> list[BatchInput]:
    return [BatchInput(str(s.image), s.tampered, str(s.mask) if s.mask else None)
            for s in open_dataset(dataset).subset(count)]


def sequential(engine_name: str, inputs: list[BatchInput]) -> dict[str, Any]:
    torch.set_num_threads(1)
    engine = get_engine(engine_name)
    start = time.perf_counter()
    engine.load(explanations=False)  # as the batch workers do
    load = time.perf_counter() - start
    table, key = load_reliability(), weights_key(engine)
    start = time.perf_counter()
    for item in inputs:
        analyse_row(item, file_sha256(item.path), engine, table, key, "sequential")
    seconds = time.perf_counter() - start
    return {"load_s": load, "seconds": seconds, "images_per_s": len(inputs) / seconds, "peak_rss_mb": peak_rss_mb()}


class WorkerMemory:
    """Peak RSS of every Ray batch worker process, sampled in a thread."""

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for process in psutil.process_iter(["pid", "cmdline"]):
                try:
                    if WORKER_TITLE in " ".join(process.info["cmdline"] or []):
                        rss = process.memory_info().rss / 2**20
                        self.peaks[process.pid] = max(rss, self.peaks.get(process.pid, 0.0))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self._stop.wait(0.2)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def on_ray(engine: str, inputs: list[BatchInput], workers: int) -> dict[str, Any]:
    marks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory(dir=get_settings().runs_dir) as out, WorkerMemory() as memory:
        start = time.perf_counter()
        summary = run_batch(BatchRequest(tuple(inputs), (engine,), Path(out), workers=workers, threads=1),
                            progress=lambda done, total, line: marks.append((time.perf_counter(), done)))
        wall = time.perf_counter() - start
    (first_time, first_done), (last_time, last_done) = marks[0], marks[-1]
    steady = (last_done - first_done) / (last_time - first_time) if last_time > first_time else float("nan")
    return {"workers": workers, "wall_s": wall, "images_per_s": len(inputs) / wall,
            "first_batch_s": first_time - start, "steady_images_per_s": steady,
            "errors": summary.errors, "worker_peak_rss_mb": sorted(memory.peaks.values())}


def measure(args: argparse.Namespace) -> None:
    inputs = inputs_of(args.dataset, args.images)
    load_before = os.getloadavg()[0]
    result: dict[str, Any] = {**run_header(), "engine": args.engine, "images": len(inputs),
                              "sequential": sequential(args.engine, inputs)}
    start = time.perf_counter()
    start_ray(None)
    result["ray_start_s"] = time.perf_counter() - start
    result["ray"] = [on_ray(args.engine, inputs, workers) for workers in args.workers]
    result["load_average"] = [load_before, os.getloadavg()[0]]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.engine}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def report(out: Path) -> None:
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.stem != "batch_scaling"]
    lines = [header_markdown(results[0]), "",
             "| engine | images | sequential img/s (1 thread) | workers | wall s | img/s overall | steady img/s "
             "| speed-up (steady, vs 1 worker) | overhead of 1 worker vs sequential (steady) | first batch s | peak RSS per worker MB "
             "| sequential peak RSS MB | load average before/after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        seq = r["sequential"]["images_per_s"]
        one = r["ray"][0]["steady_images_per_s"]
        for run in r["ray"]:
            rss = "/".join(f"{v:.0f}" for v in run["worker_peak_rss_mb"])
            lines.append(
                f"| {r['engine']} | {r['images']} | {seq:.2f} | {run['workers']} | {run['wall_s']:.0f} | "
                f"{run['images_per_s']:.2f} | {run['steady_images_per_s']:.2f} | {run['steady_images_per_s'] / one:.2f}× | "
                f"{f'{(seq / one - 1) * 100:+.0f} %' if run['workers'] == 1 else '—'} | {run['first_batch_s']:.0f} | {rss} | "
                f"{r['sequential']['peak_rss_mb']:.0f} | {r['load_average'][0]:.1f}/{r['load_average'][1]:.1f} |")
    write_outputs(out, "batch_scaling", {"runs": results}, "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="diffforensics")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dataset", type=Path, default=get_settings().benchmarks_dir / "casia1")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/batch_scaling"))
    parser.add_argument("--report", action="store_true", help="only write batch_scaling.md from the JSONs in --out")
    args = parser.parse_args()
    report(args.out) if args.report else measure(args)


if __name__ == "__main__":
    main()
