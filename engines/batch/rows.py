"""One image and one loaded engine into one table row, or an error row saying why not.

The analysis, calibration and verdict are the app's own (`Engine.analyze`, `engines.verdict`);
the ground truth, when the input has one, is scored as `engines.evaluation.evaluate` scores it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from engines.batch.inputs import BatchInput
from engines.batch.rle import encode_mask
from engines.reports.bundle import safe_stem
from engines.engine import Engine
from engines.errors import WorkbenchError
from engines.data.imageio import load_image, load_mask
from engines.evaluation.metrics import pixel_scores
from engines.reports.render import resize_map
from engines.verdict import ReliabilityTable, analysis_verdict


def weights_key(engine: Engine) -> str:
    """The engine's profile and a digest of the weights it loaded: two rows with the same key were
    computed by the same model (an engine without weights has the digest of nothing)."""
    digest = hashlib.sha256(",".join(sorted(engine.describe()["weights"].values())).encode()).hexdigest()
    return f"{engine.profile}:{digest[:16]}"


def file_sha256(path: str) -> tuple[str, int] | None:
    """(sha256, size) of a file's bytes; None when it cannot be read (the analysis then says why)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest(), Path(path).stat().st_size
    except OSError:
        return None


def analyse_row(item: BatchInput, digest: tuple[str, int] | None, engine: Engine, table: ReliabilityTable,
                key: str, worker: str, reports_dir: Path | None = None) -> dict[str, Any]:
    """The row of `item`, whose bytes have `digest` (`file_sha256`); any failure is an error row:
    one bad file never ends a run."""
    sha256, size = digest or (None, None)
    row: dict[str, Any] = {"path": item.path, "sha256": sha256, "file_bytes": size,
                           "engine": engine.name, "profile": engine.profile,
                           "weights_key": key, "tampered": item.tampered, "worker": worker,
                           "analysed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    start = time.perf_counter()
    try:
        image = load_image(item.path)
        row.update(width=image.width, height=image.height)
        analysis = engine.analyze(image, explain=False)
        verdict = analysis_verdict(analysis, table)
        row.update(score=analysis.score, calibrated=verdict.calibrated, verdict=verdict.band,
                   flagged_fraction=float(analysis.mask.mean()), mask_rle=encode_mask(analysis.mask),
                   label=analysis.label, provenance=json.dumps(analysis.provenance.to_dict()))
        if item.mask is not None:
            truth = load_mask(item.mask)
            scores = pixel_scores(resize_map(analysis.heatmap, *truth.shape), truth, analysis.threshold)
            row.update(f1=scores["f1"], iou=scores["iou"])
        if reports_dir is not None:
            from engines.reports.report import write_report

            stem = f"{safe_stem(Path(item.path).stem)}-{sha256[:8]}"
            row["report"] = str(write_report(image, analysis, reports_dir, stem)["html"])
    except WorkbenchError as error:
        row["error"] = str(error)
    except Exception as error:  # a bug on one image is recorded, never the end of the run
        row["error"] = f"unexpected {type(error).__name__}: {error}"
    row["seconds"] = time.perf_counter() - start
    return row
