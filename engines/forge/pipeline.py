"""`generate_dataset`: a folder of photos in, a forged dataset (see writer.py) out.

Samples are independent (each seeded from (seed, index)), so they are spread over worker
processes (spawned, one thread each for OpenCV and torch) and sample i is the same whatever the
number of workers. Each worker writes its own files; the parent writes index.json in sample order
and a report with counts, what was skipped, and the speed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engines.errors import WorkbenchError
from engines.forge.config import AUTHENTIC, ForgeConfig
from engines.forge.photos import PhotoSet, scan_photos
from engines.forge.sample import make_sample
from engines.forge.writer import prepare_out_dir, write_index, write_report, write_sample

Progress = Callable[[int, int], None]
"""(samples finished, samples requested)."""


@dataclass
class ForgeReport:
    requested: int
    written: int
    by_type: dict[str, int]
    dropped: list[str]
    """Stems of samples that failed all `max_attempts` draws (not written)."""
    redraws: dict[str, int]
    """Reason -> number of draws rejected for it (each was replaced by a new draw)."""
    photos_usable: int
    unreadable_photos: list[str]
    too_small_photos: list[str]
    workers: int
    seconds: float
    samples_per_second: float
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"wrote {self.written} of {self.requested} samples in {self.seconds:.1f} s "
            f"({self.samples_per_second:.2f} samples/s, {self.workers} worker(s))",
            "by type: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_type.items())),
            f"photos: {self.photos_usable} usable, {len(self.unreadable_photos)} unreadable, "
            f"{len(self.too_small_photos)} too small",
        ]
        if self.redraws:
            lines.append("redrawn: " + ", ".join(f"{k} {v}" for k, v in sorted(self.redraws.items())))
        if self.dropped:
            lines.append(f"dropped after {self.config.get('max_attempts')} draws: {', '.join(self.dropped)}")
        if self.unreadable_photos:
            lines.append("unreadable: " + ", ".join(self.unreadable_photos))
        return "\n".join(lines)


def plan_kinds(n: int, config: ForgeConfig) -> list[str]:
    """The kind of each sample: exactly round(n·authentic_ratio) authentic, the rest split evenly
    over the edit types, in a seeded random order."""
    if n < 1:
        raise WorkbenchError(f"-n must be at least 1, got {n}.")
    authentic = round(n * config.authentic_ratio) if config.types else n
    kinds = [config.types[i % len(config.types)] for i in range(n - authentic)] + [AUTHENTIC] * authentic
    order = np.random.default_rng([config.seed, n]).permutation(n)
    return [kinds[i] for i in order]


def generate_dataset(
    photos_dir: Path | str,
    out_dir: Path | str,
    n: int,
    config: ForgeConfig | None = None,
    *,
    workers: int = 2,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ForgeReport:
    config = config or ForgeConfig()
    if workers < 1:
        raise WorkbenchError(f"--workers must be at least 1, got {workers}.")
    photos = scan_photos(photos_dir, config.min_photo_side)
    kinds = plan_kinds(n, config)
    out_dir = Path(out_dir).expanduser()
    prepare_out_dir(out_dir, overwrite)
    started = time.perf_counter()
    results = []
    for done, result in enumerate(_run_all(list(enumerate(kinds)), config, photos, out_dir, workers), 1):
        results.append(result)
        if progress:
            progress(done, n)
    seconds = time.perf_counter() - started
    results.sort(key=lambda r: r["index"])
    written = [r for r in results if r["entry"] is not None]
    write_index(out_dir, [r["entry"] for r in written])
    report = ForgeReport(
        requested=n,
        written=len(written),
        by_type=dict(Counter(r["kind"] for r in written)),
        dropped=[r["stem"] for r in results if r["entry"] is None],
        redraws=dict(Counter(reason for r in results for reason in r["rejected"])),
        photos_usable=len(photos.photos),
        unreadable_photos=sorted({*photos.unreadable, *(p for r in results for p in r["unreadable"])}),
        too_small_photos=list(photos.too_small),
        workers=workers,
        seconds=round(seconds, 2),
        samples_per_second=round(len(written) / seconds, 3) if seconds > 0 else 0.0,
        config=config.to_dict(),
    )
    write_report(out_dir, report.to_dict())
    return report


_WORKER_STATE: tuple[ForgeConfig, PhotoSet, Path] | None = None


def _init_worker(config: ForgeConfig, photos: PhotoSet, out_dir: Path) -> None:
    global _WORKER_STATE
    _set_threads(1)
    _WORKER_STATE = (config, photos, out_dir)


def _run_one(task: tuple[int, str]) -> dict:
    if _WORKER_STATE is None:
        raise RuntimeError("worker used before _init_worker")
    config, photos, out_dir = _WORKER_STATE
    index, kind = task
    sample = make_sample(index, kind, config, photos)
    return {
        "index": index,
        "kind": kind,
        "stem": sample.stem,
        "entry": write_sample(out_dir, sample) if sample.ok else None,
        "rejected": sample.rejected,
        "unreadable": sample.unreadable,
    }


def _run_all(
    tasks: list[tuple[int, str]], config: ForgeConfig, photos: PhotoSet, out_dir: Path, workers: int
) -> Iterator[dict]:
    if workers == 1:
        with _single_threaded():
            _init_worker(config, photos, out_dir)
            yield from map(_run_one, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(config, photos, out_dir)) as pool:
        yield from pool.imap_unordered(_run_one, tasks, chunksize=4)


def _set_threads(count: int) -> None:
    """One thread per worker for OpenCV and torch: workers already use every core, and single-
    threaded math makes results independent of the machine's core count."""
    import torch

    cv2.setNumThreads(count)
    torch.set_num_threads(count)


@contextlib.contextmanager
def _single_threaded() -> Iterator[None]:
    import torch

    previous = cv2.getNumThreads(), torch.get_num_threads()
    try:
        _set_threads(1)
        yield
    finally:
        cv2.setNumThreads(previous[0])
        torch.set_num_threads(previous[1])
