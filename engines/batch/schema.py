"""The columns of the batch table: one row per image and engine (`docs/batch.md` shows a sample)."""

from __future__ import annotations

import pyarrow as pa

SCHEMA = pa.schema([
    pa.field("path", pa.string(), nullable=False),
    pa.field("sha256", pa.string()),
    pa.field("file_bytes", pa.int64()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("engine", pa.string(), nullable=False),
    pa.field("profile", pa.string()),
    pa.field("weights_key", pa.string()),
    pa.field("score", pa.float64()),
    pa.field("calibrated", pa.bool_()),
    pa.field("verdict", pa.string()),
    pa.field("flagged_fraction", pa.float64()),
    pa.field("mask_rle", pa.list_(pa.int64())),
    pa.field("label", pa.string()),
    pa.field("tampered", pa.bool_()),
    pa.field("f1", pa.float64()),
    pa.field("iou", pa.float64()),
    pa.field("seconds", pa.float64()),
    pa.field("provenance", pa.string()),
    pa.field("report", pa.string()),
    pa.field("worker", pa.string()),
    pa.field("analysed_at", pa.string()),
    pa.field("error", pa.string()),
])
"""`weights_key`: profile and a digest of the loaded weights' sha256 (what resume compares);
`verdict`: the band of `engines.verdict` for the calibrated score; `flagged_fraction`: share of
pixels in the engine's mask, stored as `mask_rle` (`engines.batch.rle`, with `height`, `width`);
`tampered`, `f1`, `iou`: only when the input is a dataset with labels and masks; `provenance`:
JSON of `engines.result.Provenance`; `report`: the HTML report when bundles were asked for;
`error`: why the image has no result (every result column is then null)."""

STATUS = "status"
"""Extra column between the workers and the driver, never written: done, skipped or engine_failed."""
DONE, SKIPPED, ENGINE_FAILED = "done", "skipped", "engine_failed"
WORKER_SCHEMA = SCHEMA.append(pa.field(STATUS, pa.string(), nullable=False))
