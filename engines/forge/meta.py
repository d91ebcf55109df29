"""Per-sample metadata (`meta/<stem>.json`), its schema, and a validator tests and readers share."""

from __future__ import annotations

from typing import Any

import numpy as np

META_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "stem": str,
    "index": int,
    "edit_type": str,
    "tampered": bool,
    "sources": list,
    "region": (dict, type(None)),
    "params": dict,
    "post_chain": list,
    "history": (dict, type(None)),
    "version": int,
    "seed": int,
    "size": int,
    "checks": (dict, type(None)),
}
"""Key -> allowed type(s). `sources` are photo paths relative to the photo folder, target first;
`region` is None for authentic samples; `params` holds every drawn parameter (the crop of each
source, the edit's own); `post_chain` is `Chain.to_list()` (version 1; empty in version 2); `history` the version-2
capture, touch-up and final-save parameters (None in version 1); `checks` is `CheckResult.to_dict()`."""

REGION_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "box_xyxy": list,
    "area_fraction": float,
    "centroid_xy": list,
}
"""`box_xyxy`: [x0, y0, x1, y1] in pixels, x1/y1 exclusive; `centroid_xy`: mean pixel position."""


def region_summary(mask: np.ndarray) -> dict[str, Any]:
    ys, xs = np.nonzero(mask)
    return {
        "box_xyxy": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1],
        "area_fraction": round(float(mask.mean()), 6),
        "centroid_xy": [round(float(xs.mean()), 2), round(float(ys.mean()), 2)],
    }


def validate_meta(meta: dict[str, Any]) -> list[str]:
    """Problems with a metadata record (empty when it follows the schema)."""
    problems = _check_types(meta, META_SCHEMA, "")
    if not problems and meta["region"] is not None:
        problems += _check_types(meta["region"], REGION_SCHEMA, "region.")
    if not problems and meta["tampered"] != (meta["region"] is not None):
        problems.append("region must be given exactly for tampered samples")
    if not problems and not all(isinstance(s, str) for s in meta["sources"]):
        problems.append("sources must be strings")
    return problems


def _check_types(record: Any, schema: dict[str, type | tuple[type, ...]], prefix: str) -> list[str]:
    if not isinstance(record, dict):
        return [f"{prefix or 'metadata'} must be a dict"]
    problems = [f"missing {prefix}{key}" for key in schema if key not in record]
    problems += [f"unexpected {prefix}{key}" for key in record if key not in schema]
    for key, expected in schema.items():
        value = record.get(key)
        if key in record and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
            problems.append(f"{prefix}{key} has type {type(value).__name__}")
    return problems
