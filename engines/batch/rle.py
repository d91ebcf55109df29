"""Binary masks as run lengths (COCO's uncompressed RLE: column-major order, first run of zeros).

A flagged region of a few blobs takes a few dozen integers instead of H×W bits, so a million-row
table keeps every mask. `pycocotools.mask.frPyObjects({"counts": counts, "size": [h, w]}, h, w)`
reads the same runs.
"""

from __future__ import annotations

import numpy as np


def encode_mask(mask: np.ndarray) -> list[int]:
    """Run lengths of the bool H×W `mask`, read column by column, starting with a run of zeros
    (0 when the first pixel is set)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def decode_mask(counts: list[int], height: int, width: int) -> np.ndarray:
    """The bool H×W mask of `encode_mask`'s runs."""
    if sum(counts) != height * width:
        raise ValueError(f"run lengths sum to {sum(counts)}, not {height}×{width} = {height * width}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape((height, width), order="F")
