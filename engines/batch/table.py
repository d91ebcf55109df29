"""The batch table on disk: a folder of Parquet files (`rows/part-*.parquet`, one Parquet dataset),
appended to part by part so that memory stays bounded and a killed run loses at most one part.

A rerun reads back which (engine, weights key, sha256) already have a row without an error and
skips them; an image whose row is an error is tried again, and `read_table` keeps the newest row
of each image, engine and weights.
"""

from __future__ import annotations

import datetime
import os
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engines.batch.schema import SCHEMA
from engines.errors import WorkbenchError

ROWS_FOLDER = "rows"


def rows_folder(out_dir: Path) -> Path:
    return out_dir / ROWS_FOLDER


def done_keys(out_dir: Path) -> dict[str, dict[str, frozenset[str]]]:
    """engine -> weights key -> sha256 of the images that already have a result row."""
    table = _read_parts(out_dir, ["engine", "weights_key", "sha256", "error"])
    done: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    if table is not None:
        ok = table.filter(pc.is_null(table["error"]))
        for engine, key, sha in zip(*(ok[c].to_pylist() for c in ("engine", "weights_key", "sha256")), strict=True):
            done[engine][key].add(sha)
    return {engine: {key: frozenset(shas) for key, shas in keys.items()} for engine, keys in done.items()}


def read_table(out_dir: Path) -> pa.Table:
    """Every row, the newest one per (path, sha256, engine, weights key); an empty table when none."""
    table = _read_parts(out_dir)
    if table is None:
        return SCHEMA.empty_table()
    table = table.append_column("_order", pa.array(range(table.num_rows)))
    keys = ["path", "sha256", "engine", "weights_key"]
    newest = table.group_by(keys, use_threads=False).aggregate([("_order", "max")])["_order_max"]
    return table.take(pc.take(newest, pc.sort_indices(newest))).drop_columns(["_order"])


def _read_parts(out_dir: Path, columns: list[str] | None = None) -> pa.Table | None:
    parts = sorted(rows_folder(out_dir).glob("part-*.parquet"))
    if not parts:
        return None
    try:
        return pa.concat_tables(pq.read_table(p, columns=columns, schema=SCHEMA) for p in parts)
    except (pa.ArrowInvalid, OSError) as error:
        raise WorkbenchError(f"The batch table in {rows_folder(out_dir)} cannot be read ({error}); "
                             "move the damaged part file away and run again.") from error


class PartWriter:
    """Collects rows and writes them as a new Parquet part every `rows_per_part` rows (atomically:
    a part is written under a temporary name and renamed)."""

    def __init__(self, out_dir: Path, rows_per_part: int = 512) -> None:
        self.folder = rows_folder(out_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows_per_part = rows_per_part
        self.stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        """Parts sort by name in the order they were written, across runs too."""
        self.pending: list[pa.Table] = []
        self.parts = 0
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pending.append(table.select(SCHEMA.names).cast(SCHEMA))
        if sum(t.num_rows for t in self.pending) >= self.rows_per_part:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        path = self.folder / f"part-{self.stamp}-{self.parts:05d}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.parts += 1
        self.rows += table.num_rows
        self.pending = []
