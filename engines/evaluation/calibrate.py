"""Calibrating a training-free engine: its image score mapped to a probability (Platt) on the
held-out split of a synthetic forge dataset, the same split trainers hold out
(`engines.training.split`). Trained engines fit theirs at export instead.

Never run this on a benchmark: the calibration records the dataset it was fitted on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engines.data.datasets import ForgeryDataset
from engines.engine import Engine
from engines.errors import WorkbenchError
from engines.training.calibration import Calibration, fit_calibration, has_both_classes
from engines.training.split import held_out_split


def calibrate_engine(engine: Engine, dataset: ForgeryDataset, seed: int,
                     progress: Callable[[int, int, str], None] | None = None) -> Calibration:
    """Analyse the held-out samples of `dataset` (split by `seed`) and fit the Platt map of the
    engine's raw image score, keeping its own pixel threshold. Samples that cannot be read or
    that the engine refuses are skipped and counted."""
    engine.load()
    _, validation = held_out_split(len(dataset), seed)
    heatmaps, masks, scores, labels = [], [], [], []
    skipped: list[str] = []
    for position, index in enumerate(validation):
        if progress is not None:
            progress(position, len(validation), dataset[index].image.name)
        try:
            loaded, truth = dataset.load(index)
            analysis = engine.analyze(loaded, explain=False)
        except WorkbenchError as error:
            skipped.append(str(error))
            continue
        heatmaps.append(analysis.heatmap)
        masks.append(truth if truth is not None and truth.any() else None)
        scores.append(float(analysis.provenance.parameters.get("raw_score", analysis.score)))
        labels.append(dataset[index].tampered)
    if not has_both_classes(labels):
        why = f" ({len(skipped)} could not be analysed; the first: {skipped[0]})" if skipped else ""
        raise WorkbenchError(f"The held-out split of {dataset.name} needs both authentic and tampered "
                             f"images to calibrate on{why}.")
    calibration = fit_calibration(heatmaps, masks, scores, labels, pixel_threshold=engine.threshold)
    return replace(calibration, validation={
        **calibration.validation, "dataset": dataset.name, "split_seed": seed, "n_skipped": len(skipped),
        "raw_score_median": round(float(np.median(scores)), 4)})
