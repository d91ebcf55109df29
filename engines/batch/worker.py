"""The callable class Ray Data runs in an actor pool: the engine is loaded once per worker, and
each batch of inputs (paths, not pixels) is read and analysed by the worker itself."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pyarrow as pa

from engines.batch.inputs import BatchInput
from engines.batch.rows import analyse_row, file_sha256, weights_key
from engines.batch.schema import DONE, ENGINE_FAILED, SKIPPED, STATUS, WORKER_SCHEMA
from engines.errors import WorkbenchError


class EngineWorker:
    def __init__(self, engine: str, profile: str | None, weights: str | None, device: str | None,
                 done: dict[str, frozenset[str]], threads: int, reports_dir: str | None) -> None:
        """`done`: weights key -> sha256 of the images this engine already has rows for."""
        import torch

        from engines.catalog import get_engine
        from engines.verdict import load_reliability

        torch.set_num_threads(threads)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.reports_dir = Path(reports_dir) if reports_dir else None
        self.table = load_reliability()
        self.engine = get_engine(engine, profile, device, weights)
        self.load_error: str | None = None
        try:
            self.engine.load(explanations=False)  # a batch writes no text
        except WorkbenchError as error:
            self.load_error = f"{engine} could not be loaded: {error}"
            return
        self.key = weights_key(self.engine)
        self.done = done.get(self.key, frozenset())

    def __call__(self, batch: dict) -> pa.Table:
        items = [BatchInput(str(p), None if t < 0 else bool(t), str(m) or None)
                 for p, t, m in zip(batch["path"], batch["tampered"], batch["mask"], strict=True)]
        if self.load_error is not None:
            return pa.Table.from_pylist([{"path": i.path, "engine": self.engine.name, "error": self.load_error,
                                          STATUS: ENGINE_FAILED} for i in items], schema=WORKER_SCHEMA)
        rows = []
        for item in items:
            digest = file_sha256(item.path)
            if digest is not None and digest[0] in self.done:
                rows.append({"path": item.path, "engine": self.engine.name, STATUS: SKIPPED})
                continue
            row = analyse_row(item, digest, self.engine, self.table, self.key, self.worker, self.reports_dir)
            rows.append({**row, STATUS: DONE})
        return pa.Table.from_pylist(rows, schema=WORKER_SCHEMA)

