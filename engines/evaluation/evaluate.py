"""Running one engine over a dataset, optionally after a perturbation chain, and scoring it."""

from __future__ import annotations

import dataclasses
import datetime
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engines.data.datasets import ForgeryDataset
from engines.engine import Engine
from engines.errors import WorkbenchError
from engines.evaluation.metrics import ImageMetrics, PixelMetrics
from engines.data.perturb import Chain
from engines.data.tensors import top_fraction_mean
from engines.reports.render import resize_map
from engines.settings import PROJECT_ROOT

ProgressCallback = Callable[[int, int, str], None]


@dataclass
class ImageRecord:
    image: str
    tampered: bool
    score: float | None = None
    f1: float | None = None
    iou: float | None = None
    error: str | None = None


@dataclass
class EvaluationReport:
    metrics: dict[str, Any]
    records: list[ImageRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.metrics, "per_image": [vars(r) for r in self.records]}


class EvidenceMapMetrics:
    """Pixel and image metrics of each named evidence map an engine returns, from the same pass.

    For CLUE's per-branch and per-noise-level maps this is the branch ablation on real data.
    Each map is cut at the engine's own pixel threshold (its F1-best threshold, oracle, is
    reported too) and scored as an image by the mean of its top 1 %, as the engines score
    their main map.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._pixel: dict[str, PixelMetrics] = {}
        self._image: dict[str, ImageMetrics] = {}

    def add(self, maps: dict[str, np.ndarray], gt: np.ndarray | None, tampered: bool) -> None:
        for name, values in maps.items():
            if gt is not None:
                values = resize_map(values, *gt.shape)
            self._pixel.setdefault(name, PixelMetrics(self.threshold)).add(values, gt, tampered)
            self._image.setdefault(name, ImageMetrics()).add(top_fraction_mean(torch.from_numpy(values)), tampered)

    def result(self, include_authentic: bool = False) -> dict[str, dict[str, float]]:
        return {name: {**self._pixel[name].result(include_authentic), **self._image[name].result()}
                for name in sorted(self._pixel)}


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
            text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def evaluate(
    engine: Engine,
    dataset: ForgeryDataset,
    chain: Chain | None = None,
    *,
    seed: int = 0,
    include_authentic: bool = False,
    score_maps: bool = False,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvaluationReport:
    """Analyse every sample and aggregate pixel and image metrics (see docs/metrics.md).

    `score_maps` also scores every evidence map (`EvidenceMapMetrics`), under the key "maps".

    The perturbation chain is applied to the image only; when it changes the image size, the
    heatmap is resized back to the ground-truth mask so masks are never resampled. An image that
    cannot be read, or that the engine refuses, is recorded with its error and left out of the
    metrics.
    """
    engine.load()
    pixel, image = PixelMetrics(threshold=engine.pixel_threshold), ImageMetrics()
    evidence = EvidenceMapMetrics(engine.pixel_threshold)
    records: list[ImageRecord] = []
    seconds = 0.0
    for index, sample in enumerate(dataset):
        if should_stop is not None and should_stop():
            break
        record = ImageRecord(image=str(sample.image), tampered=sample.tampered)
        records.append(record)
        if progress is not None:
            progress(index, len(dataset), sample.image.name)
        try:
            loaded, gt = dataset.load(index)
            if chain is not None:
                loaded = dataclasses.replace(loaded, rgb=chain.apply(loaded.rgb, seed=seed + index))
            start = time.perf_counter()
            analysis = engine.analyze(loaded, explain=False)
        except WorkbenchError as exc:
            record.error = str(exc)
            continue
        seconds += time.perf_counter() - start
        heatmap = analysis.heatmap
        if gt is not None:
            heatmap = resize_map(heatmap, *gt.shape)
        scores = pixel.add(heatmap, gt, sample.tampered, analysis.threshold)
        image.add(analysis.score, sample.tampered)
        if score_maps:
            evidence.add(analysis.maps, gt, sample.tampered)
        record.score = analysis.score
        if scores is not None and sample.tampered:
            record.f1, record.iou = scores["f1"], scores["iou"]
    analysed = sum(r.error is None for r in records)
    metrics: dict[str, Any] = {
        "engine": engine.name,
        "profile": engine.profile,
        "device": str(engine.device),
        "dataset": dataset.name,
        "perturbation": chain.describe() if chain is not None else "none",
        "include_authentic": include_authentic,
        "pixel_threshold": engine.pixel_threshold,
        "calibrated": engine.calibration is not None,
        "weights": engine.describe()["weights"],
        "n_tampered": sum(r.tampered and r.error is None for r in records),
        "n_authentic": sum((not r.tampered) and r.error is None for r in records),
        "n_failed": len(records) - analysed,
        **pixel.result(include_authentic=include_authentic),
        **image.result(),
        "seconds_per_image": seconds / analysed if analysed else float("nan"),
        **({"maps": evidence.result(include_authentic)} if score_maps else {}),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    return EvaluationReport(metrics=metrics, records=records)


def worst_and_best(records: list[ImageRecord], n: int = 5) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """Tampered images ranked by pixel F1, for the per-image browser."""
    scored = sorted((r for r in records if r.f1 is not None), key=lambda r: r.f1)
    return scored[:n], scored[::-1][:n]


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN: undefined metrics are written as null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
