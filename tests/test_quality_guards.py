"""Quality guards on real data: each trained engine, with its shipped weights, must rank the
tampered pixels of a fixed COVERAGE slice clearly better than the training-free classic engine.

Pixel AUC is averaged per image over the first 10 tampered COVERAGE images; a broken model, a
wrong checkpoint or a preprocessing regression (wrong normalisation, transposed resize) fails it.
"""

from __future__ import annotations

import functools

import pytest

from engines.catalog import engine_class, get_engine
from engines.data.datasets import open_dataset
from engines.errors import WeightsError
from engines.evaluation.metrics import PixelMetrics
from engines.settings import get_settings

COVERAGE = get_settings().benchmarks_dir / "coverage"
TRAINED_ENGINES = ("detective_sam", "diffforensics", "clue")


@functools.cache
def mean_pixel_auc(engine_name: str) -> float:
    dataset = open_dataset(COVERAGE).tampered[:10]
    engine, metrics = get_engine(engine_name), PixelMetrics()
    for index in range(len(dataset)):
        image, gt = dataset.load(index)
        metrics.add(engine.analyze(image).heatmap, gt, True)
    return metrics.result()["pixel_auc"]


@pytest.mark.slow
@pytest.mark.skipif(not (COVERAGE / "index.json").is_file(), reason="coverage benchmark not found")
@pytest.mark.parametrize("engine_name", TRAINED_ENGINES)
def test_shipped_model_ranks_tampered_pixels_better_than_classic(engine_name: str):
    if not engine_class(engine_name).shipped_weights("compact").is_file():
        pytest.skip(f"no shipped {engine_name} weights")
    try:
        trained = mean_pixel_auc(engine_name)
    except WeightsError as err:
        pytest.skip(f"a model-store file {engine_name} needs is absent: {err}")
    classic = mean_pixel_auc("classic")
    assert trained > classic + 0.03, {engine_name: trained, "classic": classic}
