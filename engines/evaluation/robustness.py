"""How post-processing erodes one image's evidence: clean vs perturbed analyses, change maps and
sweeps over a perturbation's intensity (the robustness lab).

Perturbations come from `engines.data.perturb`. When a chain changes the image size, perturbed maps are
resized back to the original size (as `engines.evaluation.evaluate` does), so they can be compared pixel by
pixel with the clean maps and scored against the original ground-truth mask.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engines.engine import Engine
from engines.errors import WorkbenchError
from engines.data.imageio import LoadedImage
from engines.evaluation.metrics import DEFAULT_THRESHOLD, pixel_scores
from engines.data.perturb import Chain, sweep
from engines.reports.render import resize_map
from engines.result import Analysis


def perturb_image(image: LoadedImage, chain: Chain, seed: int = 0) -> LoadedImage:
    """The image after the chain; its file facts stay those of the original upload."""
    return dataclasses.replace(image, rgb=chain.apply(image.rgb, seed=seed))


def change_map(clean: np.ndarray, perturbed: np.ndarray) -> np.ndarray:
    """perturbed − clean heatmap at the clean map's size, in [−1, 1]: negative where the
    perturbation erased evidence, positive where it created some."""
    height, width = clean.shape
    return np.clip(resize_map(perturbed, height, width) - clean, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class PerturbedComparison:
    clean: Analysis
    perturbed: Analysis
    perturbed_rgb: np.ndarray
    change: np.ndarray
    """`change_map(clean.heatmap, perturbed.heatmap)`."""

    @property
    def perturbed_heatmap(self) -> np.ndarray:
        """The perturbed heatmap at the original image size."""
        return resize_map(self.perturbed.heatmap, *self.clean.heatmap.shape)


def compare_clean_and_perturbed(engine: Engine, image: LoadedImage, chain: Chain, seed: int = 0,
                                clean: Analysis | None = None) -> PerturbedComparison:
    """Analyse the image before and after the chain (`clean` reuses an analysis already made)."""
    clean = clean if clean is not None else engine.analyze(image)
    perturbed_image = perturb_image(image, chain, seed)
    perturbed = engine.analyze(perturbed_image)
    return PerturbedComparison(clean=clean, perturbed=perturbed, perturbed_rgb=perturbed_image.rgb,
                               change=change_map(clean.heatmap, perturbed.heatmap))


@dataclass(frozen=True)
class SweepPoint:
    value: float | None
    """The intensity on the sweep axis; None for the clean (unperturbed) image."""
    score: float
    f1: float | None = None
    iou: float | None = None


@dataclass(frozen=True)
class SweepResult:
    engine: str
    axis: str
    clean: SweepPoint
    points: list[SweepPoint]


def _point(value: float | None, analysis: Analysis, gt: np.ndarray | None, threshold: float) -> SweepPoint:
    if gt is None:
        return SweepPoint(value, analysis.score)
    scores = pixel_scores(resize_map(analysis.heatmap, *gt.shape), gt, threshold)
    return SweepPoint(value, analysis.score, scores["f1"], scores["iou"])


def sweep_engine(
    engine: Engine,
    image: LoadedImage,
    axis: str,
    values: Sequence[float],
    gt: np.ndarray | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Score (and F1/IoU against `gt`, a bool mask at the image size) at every intensity."""
    if gt is not None and gt.shape != (image.height, image.width):
        raise WorkbenchError(
            f"The ground-truth mask is {gt.shape[1]}×{gt.shape[0]} but the image is "
            f"{image.width}×{image.height} (width×height); they must be the same size."
        )
    chains = sweep(axis, values)
    clean = _point(None, engine.analyze(image), gt, threshold)
    points = []
    for index, (value, chain) in enumerate(zip(values, chains, strict=True)):
        if should_stop is not None and should_stop():
            break
        points.append(_point(float(value), engine.analyze(perturb_image(image, chain, seed)), gt, threshold))
        if progress is not None:
            progress(index + 1, len(chains))
    return SweepResult(engine=engine.name, axis=axis, clean=clean, points=points)


def parse_values(text: str) -> list[float]:
    """Intensities typed as `50, 60, 70` (commas or spaces), in the order given."""
    tokens = [token for token in re.split(r"[,\s;]+", str(text).strip()) if token]
    if not tokens:
        raise WorkbenchError("Type at least one intensity, e.g. '50, 70, 90'.")
    values = []
    for token in tokens:
        try:
            values.append(float(token))
        except ValueError:
            raise WorkbenchError(f"{token!r} is not a number; type intensities like '50, 70, 90'.") from None
    return values
