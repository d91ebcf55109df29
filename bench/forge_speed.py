"""Forge v2 throughput: samples per second of the on-the-fly stream at a fixed side.

Two figures: CPU seconds per sample in one single-threaded process, as in the stream's workers
(by kind; little affected by other load on the machine), and the wall-clock rate of `ForgeStream` through a DataLoader with `--workers`
processes (meaningful only on an otherwise idle machine).

    python bench/forge_speed.py --side 512 --n 200 --workers 2
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import cv2
import torch
from torch.utils.data import DataLoader

from engines.forge.config import ForgeConfig
from engines.forge.photos import scan_photo_folders
from engines.forge.sample import make_sample
from engines.forge.stream import ForgeStream, collate, kind_of
from engines.settings import get_settings


def cpu_seconds_by_kind(config: ForgeConfig, photos, n: int) -> dict[str, float]:
    times: dict[str, list[float]] = defaultdict(list)
    make_sample(0, "regenerate", config, photos)  # loads TAEF2 once, outside the timing
    for index in range(n):
        kind = kind_of(index, config)
        start = time.process_time()
        make_sample(index, kind, config, photos)
        times[kind].append(time.process_time() - start)
    per_kind = {k: round(sum(v) / len(v), 4) for k, v in sorted(times.items())}
    per_kind["all"] = round(sum(sum(v) for v in times.values()) / n, 4)
    return per_kind


def stream_rate(config: ForgeConfig, photos, n: int, side: int, workers: int) -> float:
    loader = DataLoader(ForgeStream(config, photos, side, start=10_000, count=n), batch_size=8,
                        num_workers=workers, collate_fn=collate, multiprocessing_context="spawn" if workers else None)
    start = time.perf_counter()
    seen = sum(len(batch["labels"]) for batch in loader)
    return seen / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)  # as in the stream's worker processes
    settings = get_settings()
    config = ForgeConfig(size_range=(args.side, args.side))
    photos = scan_photo_folders((settings.photos_dir, *settings.extra_photo_dirs), config.min_photo_side)
    cpu = cpu_seconds_by_kind(config, photos, args.n)
    result = {"side": args.side, "photos": len(photos.photos), "cpu_seconds_per_sample": cpu,
              "samples_per_second_per_core": round(1 / cpu["all"], 2),
              f"stream_samples_per_second_{args.workers}_workers": round(
                  stream_rate(config, photos, args.n, args.side, args.workers), 2)}
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
