"""The memory budget of one analysis: large images are analysed on a working copy whose maps come
back at the image's size, images that cannot fit are refused with the size that would, and with
the measured costs every engine analyses an image at the size limit within the default budget."""

from __future__ import annotations

import numpy as np
import pytest

from engines.catalog import engine_class, engine_names, get_engine
from engines.errors import ImageInputError
from engines.data.memory_budget import (
    DEFAULT_BUDGET_MB,
    MIN_WORKING_MEGAPIXELS,
    PLANNING_SHARE,
    MemoryCost,
    cost_of,
    largest_fitting_megapixels,
    measured_costs,
    scaled_coordinates,
    working_size,
)
from engines.settings import get_settings
from engines.data.synthetic import procedural_scene

COSTLY = {"classic/compact": MemoryCost(output_mb_per_mp=24.0, working_mb_per_mp=1000.0, fixed_mb=0.0)}
"""A made-up cost that makes a 1024×768 image 'large' for a budget of a few hundred MB."""


@pytest.fixture
def costly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engines.data.memory_budget.measured_costs", lambda: COSTLY)


def test_an_image_over_the_budget_is_analysed_on_a_working_copy_with_maps_at_its_size(costly, monkeypatch):
    monkeypatch.setenv("FORGERY_MEMORY_BUDGET_MB", "400")
    rgb = procedural_scene(0, 768, 1024)
    analysis = get_engine("classic").analyze(rgb)
    copy = analysis.provenance.parameters["working_copy"]
    assert (copy["of_width"], copy["of_height"]) == (1024, 768)
    assert copy["width"] * copy["height"] / 1e6 <= (400 * PLANNING_SHARE - 24 * 0.786432) / 1000
    assert copy["width"] / copy["height"] == pytest.approx(1024 / 768, rel=0.01)
    assert "400 MB memory budget" in copy["why"]
    assert analysis.heatmap.shape == analysis.mask.shape == (768, 1024)
    assert all(m.shape == (768, 1024) for m in analysis.maps.values())


def test_an_image_within_the_budget_is_analysed_as_it_is(costly, monkeypatch):
    monkeypatch.setenv("FORGERY_MEMORY_BUDGET_MB", "400")
    analysis = get_engine("classic").analyze(procedural_scene(0, 240, 320))
    assert "working_copy" not in analysis.provenance.parameters


def test_an_image_that_cannot_fit_is_refused_with_the_size_that_would(costly):
    with pytest.raises(ImageInputError) as refused:
        working_size("classic", "compact", 8000, 6000, budget=400)
    fitting = largest_fitting_megapixels(COSTLY["classic/compact"], 400 * PLANNING_SHARE)
    assert fitting == pytest.approx((400 * PLANNING_SHARE - 1000 * MIN_WORKING_MEGAPIXELS) / 24)
    assert f"Downscale it to at most {np.floor(fitting * 10) / 10:g} MP" in str(refused.value)
    with pytest.raises(ImageInputError, match="Raise FORGERY_MEMORY_BUDGET_MB"):
        working_size("classic", "compact", 8000, 6000, budget=100)


def test_a_budget_of_zero_turns_it_off(costly, monkeypatch):
    monkeypatch.setenv("FORGERY_MEMORY_BUDGET_MB", "0")
    analysis = get_engine("classic").analyze(procedural_scene(0, 768, 1024))
    assert "working_copy" not in analysis.provenance.parameters


def test_evidence_coordinates_are_scaled_back_to_the_image():
    evidence = {"pairs": [{"a_box_xyxy": [10, 20, 30, 40], "a_centre_xy": [5.0, 6.0], "score": 0.9}],
                "region": {"box_xyxy": [1, 2, 3, 4], "area_fraction": 0.1}}
    scaled = scaled_coordinates(evidence, 2.0, 3.0)
    assert scaled["pairs"][0] == {"a_box_xyxy": [20, 60, 60, 120], "a_centre_xy": [10.0, 18.0], "score": 0.9}
    assert scaled["region"] == {"box_xyxy": [2, 6, 6, 12], "area_fraction": 0.1}


def test_an_engine_without_a_measurement_is_planned_with_the_largest_measured_figures(costly):
    assert cost_of("unmeasured", "compact") == COSTLY["classic/compact"]


def test_every_engine_is_analysed_within_the_default_budget_at_the_size_limit():
    measured_costs.cache_clear()
    limit = get_settings().max_megapixels
    width = int((limit * 1e6 * 4 / 3) ** 0.5)
    height = int(limit * 1e6 / width)
    assert len(measured_costs()) >= 4
    for name in engine_names():
        profile = engine_class(name).default_profile
        planned = working_size(name, profile, width, height, DEFAULT_BUDGET_MB)
        megapixels = width * height / 1e6
        planned_mb = cost_of(name, profile).estimate_mb(megapixels, planned[0] * planned[1] / 1e6)
        assert planned_mb <= DEFAULT_BUDGET_MB * PLANNING_SHARE
