"""Run engines over a collection on Ray Data and write the batch table.

Local mode needs no set-up: Ray starts in this process's machine with one worker per core.
`ray_address` joins an existing cluster instead (every node needs this project installed and the
inputs and output folder at the same paths, e.g. a shared file system). Each engine gets its own
actor pool (`EngineWorker`: loaded once per worker); the driver holds only the list of paths and
the rows not yet written, and Ray Data's streaming executor stops feeding workers when the rows
are not consumed, so memory stays bounded whatever the collection's size.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engines.batch.inputs import BatchInput
from engines.batch.progress import BatchProgress
from engines.batch.schema import DONE, ENGINE_FAILED, SKIPPED, STATUS
from engines.batch.table import PartWriter, done_keys, read_table
from engines.batch.worker import EngineWorker
from engines.errors import WorkbenchError
from engines.evaluation.metrics import ImageMetrics

ProgressCallback = Callable[[int, int, str], None]
SUMMARY_FILE = "summary.json"
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20
"""Rows and path lists are small: a local run needs far less than Ray's default (30 % of memory)."""
BLOCKS_PER_WORKER = 16


@dataclass(frozen=True)
class BatchRequest:
    inputs: tuple[BatchInput, ...]
    engines: tuple[str, ...]
    out_dir: Path
    profile: str | None = None
    weights: str | None = None
    device: str | None = None
    workers: int | None = None
    """Actors per engine; default one per CPU of the cluster (local: the cores)."""
    threads: int | None = None
    """Torch threads (and CPUs reserved) per worker; default the CPUs divided among the workers."""
    ray_address: str | None = None
    reports: bool = False
    """Also write each image's report bundle under `<out_dir>/reports/<engine>/`."""
    batch_size: int = 8

    def __post_init__(self) -> None:
        if not self.inputs:
            raise WorkbenchError("There are no images to analyse.")
        if not self.engines:
            raise WorkbenchError("Name at least one engine.")
        for name, value in (("workers", self.workers), ("threads", self.threads), ("batch size", self.batch_size)):
            if value is not None and value < 1:
                raise WorkbenchError(f"The number of {name} must be at least 1, got {value}.")


@dataclass
class BatchSummary:
    out_dir: Path
    rows_written: int
    skipped: int
    errors: int
    stopped: bool
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "rows_written": self.rows_written, "skipped": self.skipped,
                "errors": self.errors, "stopped": self.stopped, "engines": self.engines}


def start_ray(address: str | None) -> dict[str, float]:
    """Join `address` or start Ray locally (quietly: no dashboard, no worker logs on the console);
    returns the cluster's resources. A Ray already started in this process is reused."""
    import ray

    if not ray.is_initialized():
        env = {k: v for k, v in os.environ.items() if k.startswith("FORGERY_")}
        local = {} if address else {"object_store_memory": LOCAL_OBJECT_STORE_BYTES}
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": env}, logging_level=logging.WARNING, **local)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise WorkbenchError(f"Ray could not start or join {address or 'a local cluster'}: {error}") from error
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray.cluster_resources()


def run_batch(request: BatchRequest, progress: ProgressCallback | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchSummary:
    """Analyse every input with every engine into `<out_dir>/rows/` (resumable), then write
    `<out_dir>/summary.json`."""
    import ray.data

    cpus = int(start_ray(request.ray_address).get("CPU", 1))
    workers = request.workers or max(1, cpus)
    threads = request.threads or max(1, cpus // workers)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    done = done_keys(request.out_dir)
    writer = PartWriter(request.out_dir)
    tracker = BatchProgress(total=len(request.inputs) * len(request.engines))
    items = [{"path": i.path, "tampered": -1 if i.tampered is None else int(i.tampered), "mask": i.mask or ""}
             for i in request.inputs]
    blocks = max(1, min(math.ceil(len(items) / request.batch_size), workers * BLOCKS_PER_WORKER))
    stopped = False
    for engine in request.engines:
        reports = request.out_dir / "reports" / engine if request.reports else None
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            EngineWorker, batch_size=request.batch_size, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads, fn_constructor_kwargs={
                "engine": engine, "profile": request.profile, "weights": request.weights,
                "device": request.device, "done": done.get(engine, {}), "threads": threads,
                "reports_dir": str(reports) if reports else None})
        for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            _take(table, writer, tracker)
            if progress is not None:
                progress(tracker.handled, tracker.total, tracker.line(engine))
            if should_stop is not None and should_stop():
                stopped = True
                break
        writer.flush()
        if stopped:
            break
    summary = BatchSummary(request.out_dir, writer.rows, tracker.skipped, tracker.errors, stopped,
                           summarise(read_table(request.out_dir), request.engines))
    (request.out_dir / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def _take(table: pa.Table, writer: PartWriter, tracker: BatchProgress) -> None:
    """Count a batch of worker rows and queue the analysed ones for writing."""
    status = table[STATUS]
    failed = table.filter(pc.equal(status, ENGINE_FAILED))
    if failed.num_rows:
        writer.flush()
        raise WorkbenchError(failed["error"][0].as_py())
    tracker.skipped += table.filter(pc.equal(status, SKIPPED)).num_rows
    analysed = table.filter(pc.equal(status, DONE))
    tracker.analysed += analysed.num_rows
    tracker.errors += analysed.num_rows - analysed["error"].null_count
    writer.add(analysed.drop_columns([STATUS]))


def summarise(table: pa.Table, engines: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per engine: rows, errors, verdict counts, mean seconds, and when the inputs had labels and
    masks, image AUC (`engines.evaluation.metrics.ImageMetrics`) and mean pixel F1 over the tampered images."""
    result = {}
    for engine in engines:
        rows = table.filter(pc.equal(table["engine"], engine))
        good = rows.filter(pc.is_null(rows["error"]))
        labelled = good.filter(pc.is_valid(good["tampered"]))
        image = ImageMetrics()
        for score, tampered in zip(labelled["score"].to_pylist(), labelled["tampered"].to_pylist(), strict=True):
            image.add(score, tampered)
        tampered_f1 = good.filter(pc.and_(pc.equal(good["tampered"], True), pc.is_valid(good["f1"])))["f1"]
        verdicts = good.group_by("verdict").aggregate([("verdict", "count")]).to_pylist()
        result[engine] = {
            "rows": rows.num_rows, "errors": rows.num_rows - good.num_rows,
            "verdicts": {v["verdict"]: v["verdict_count"] for v in verdicts},
            "seconds_per_image": pc.mean(good["seconds"]).as_py(),
            "image_auc": _finite(image.result()["image_auc"]),
            "pixel_f1": pc.mean(tampered_f1).as_py(),
        }
    return result


def _finite(value: Any) -> Any:
    return value if isinstance(value, float) and math.isfinite(value) else None
