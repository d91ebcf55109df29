"""The robustness lab's computations: perturbed analyses, change maps, sweeps and their plot."""

from __future__ import annotations

import numpy as np
import pytest

from engines.catalog import get_engine
from engines.errors import WorkbenchError
from engines.data.imageio import load_image
from engines.data.perturb import Chain, Perturbation, parse_chain
from engines.reports.plots import sweep_figure
from engines.evaluation.robustness import (
    change_map,
    compare_clean_and_perturbed,
    parse_values,
    perturb_image,
    sweep_engine,
)


@pytest.fixture
def image(spliced_image):
    return load_image(spliced_image[0])


def test_change_map_is_signed_difference_at_the_clean_size():
    clean = np.zeros((4, 6), np.float32)
    perturbed = np.full((2, 3), 0.25, np.float32)
    perturbed[0, 0] = 1.0
    change = change_map(clean, perturbed)
    assert change.shape == (4, 6)
    assert change.min() >= 0.25 - 1e-6 and change.max() <= 1.0
    assert change_map(np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)).tolist() == [[-1, -1], [-1, -1]]


def test_perturbed_comparison_keeps_the_original_size_after_a_resize(image):
    result = compare_clean_and_perturbed(get_engine("classic"), image, parse_chain("resize=0.5+jpeg=60"))
    assert result.perturbed_rgb.shape[:2] == (image.height // 2, image.width // 2)
    assert result.perturbed_heatmap.shape == result.clean.heatmap.shape == result.change.shape
    assert np.allclose(result.change, result.perturbed_heatmap - result.clean.heatmap, atol=1e-6)


def test_perturb_image_is_seeded_and_keeps_file_facts(image):
    chain = Chain((Perturbation("noise", {"sigma": 5}),))
    first, again = perturb_image(image, chain, seed=3), perturb_image(image, chain, seed=3)
    assert np.array_equal(first.rgb, again.rgb) and not np.array_equal(first.rgb, image.rgb)
    assert first.facts() == image.facts()


def test_sweep_scores_every_intensity_against_the_truth(image, spliced_image):
    gt = spliced_image[1]
    steps = []
    result = sweep_engine(get_engine("classic"), image, "jpeg", [40, 95], gt,
                          progress=lambda done, total: steps.append((done, total)))
    assert [p.value for p in result.points] == [40.0, 95.0]
    assert steps == [(1, 2), (2, 2)]
    assert result.clean.value is None and 0.0 <= result.clean.f1 <= 1.0
    assert all(p.f1 is not None and p.iou is not None and 0 <= p.score <= 1 for p in result.points)
    assert result.points[0].score != result.points[1].score


def test_sweep_refuses_a_mask_of_another_size(image):
    with pytest.raises(WorkbenchError, match="same size"):
        sweep_engine(get_engine("classic"), image, "jpeg", [50], np.zeros((5, 5), bool))


def test_parse_values_reads_lists_and_names_the_bad_token():
    assert parse_values("50, 60 70;0.5") == [50.0, 60.0, 70.0, 0.5]
    with pytest.raises(WorkbenchError, match="'abc' is not a number"):
        parse_values("50, abc")
    with pytest.raises(WorkbenchError, match="at least one"):
        parse_values(" ")


def test_sweep_figure_has_one_panel_per_metric_and_one_line_per_engine(image, spliced_image):
    engine = get_engine("classic")
    with_truth = sweep_engine(engine, image, "gamma", [0.8, 1.25], spliced_image[1])
    without = sweep_engine(engine, image, "gamma", [0.8, 1.25])
    assert len(sweep_figure([with_truth]).axes) == 3
    figure = sweep_figure([without])
    assert len(figure.axes) == 1
    line = figure.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [0.8, 1.25]
    assert figure.axes[0].get_xlabel() == "gamma"
