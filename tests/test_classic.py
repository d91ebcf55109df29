"""The classic engine on synthetic forgeries: each tool must light up the region it is built for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines.catalog import get_engine
from engines.classic.ela import error_level_analysis
from engines.classic.engine import ClassicConfig, ClassicEngine
from engines.classic.evidence import conditional_z, robust_z
from engines.classic.jpeg_ghost import jpeg_ghost
from engines.classic.noise import noise_level_anomaly
from engines.errors import ImageInputError
from engines.data.perturb import Perturbation

HEIGHT, WIDTH = 192, 256
CONFIG = ClassicConfig()
MAP_NAMES = {"ela", "noise_residual", "noise_level_anomaly", "jpeg_ghost", "copy_move_pairs"}


def photo_like(seed: int = 0, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Smooth shapes plus fine texture plus mild sensor-like noise, RGB uint8."""
    rng = np.random.default_rng(seed)
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), 12)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), 1.2)
    image = 128 + 60 * coarse / coarse.std() + 12 * fine / fine.std()
    image += rng.normal(0, 2.0, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    return Perturbation("jpeg", {"quality": quality}).apply(rgb)


def region() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[48:144, 64:160] = True
    return mask


def paste(base: np.ndarray, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = base.copy()
    out[mask] = source[mask]
    return out


def inside_minus_outside(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean inside minus mean outside, ignoring an 8-pixel band around the boundary."""
    kernel = np.ones((17, 17), np.uint8)
    core = cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    far = ~cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    return float(values[core].mean() - values[far].mean())


def noisy_splice() -> tuple[np.ndarray, np.ndarray]:
    base = photo_like(0)
    rng = np.random.default_rng(1)
    noisier = np.clip(base + rng.normal(0, 8.0, base.shape), 0, 255).astype(np.uint8)
    return paste(base, noisier, region()), region()


def test_ela_is_higher_on_a_region_never_compressed_like_the_rest() -> None:
    original = photo_like(0)
    spliced = paste(jpeg(original, 90), original, region())
    ela = error_level_analysis(spliced, CONFIG.ela_qualities, CONFIG.ela_smooth_sigma)
    assert inside_minus_outside(ela.display, region()) > 0.2
    assert inside_minus_outside(ela.z, region()) > 1.0


def test_noise_anomaly_is_higher_on_a_region_with_more_noise() -> None:
    spliced, mask = noisy_splice()
    anomaly = noise_level_anomaly(spliced, CONFIG.noise_block)
    assert inside_minus_outside(anomaly.display, mask) > 0.3
    assert inside_minus_outside(anomaly.z, mask) > 1.5


def test_jpeg_ghost_shows_a_region_first_saved_at_a_lower_quality() -> None:
    original = photo_like(0)
    spliced = jpeg(paste(original, jpeg(original, 60), region()), 85)
    ghost = jpeg_ghost(spliced, CONFIG.ghost_qualities, CONFIG.ghost_window)
    assert inside_minus_outside(ghost.display, region()) > 0.25
    assert inside_minus_outside(ghost.z, region()) > 1.5
    assert ghost.facts["jpeg_dominant_quality"] == 85


def test_conditional_z_compares_like_with_like() -> None:
    rng = np.random.default_rng(0)
    texture = rng.exponential(2.0, 10_000).astype(np.float32)
    values = 5 * texture + rng.normal(0, 1, texture.size).astype(np.float32)
    # Against the whole image, strong texture looks extreme; against similar texture it does not.
    assert np.percentile(np.abs(robust_z(values, 0.1)), 99) > 5.0
    assert np.percentile(np.abs(conditional_z(values, texture, 16, 0.1)), 99) < 3.0


def test_spliced_image_scores_higher_than_the_untouched_one() -> None:
    engine = ClassicEngine()
    spliced, mask = noisy_splice()
    untouched = engine.analyze(photo_like(0))
    forged = engine.analyze(spliced)
    assert forged.score > untouched.score + 0.3
    assert untouched.mask.mean() < 0.05
    assert forged.mask[mask].mean() > 0.5


def test_maps_and_parameters_through_the_catalog() -> None:
    """The shapes, ranges and provenance every engine keeps: tests/test_engine_contract.py."""
    analysis = get_engine("classic").analyze(photo_like(3, 97, 131))
    assert analysis.provenance.parameters["ela_qualities"] == (90,)
    assert set(analysis.maps) == MAP_NAMES


def test_two_runs_are_identical() -> None:
    spliced, _ = noisy_splice()
    first, second = ClassicEngine().analyze(spliced), ClassicEngine().analyze(spliced)
    for name in MAP_NAMES:
        np.testing.assert_array_equal(first.maps[name], second.maps[name])


def test_engine_contract_and_tiny_images() -> None:
    engine = ClassicEngine()
    assert engine.load() == CONFIG
    assert ClassicEngine.title == "Classic forensics"
    assert set(ClassicEngine.profiles) == {"compact"}
    with pytest.raises(ImageInputError, match="at least 8×8"):
        engine.analyze(np.zeros((5, 40, 3), np.uint8))
    small = engine.analyze(photo_like(4, 9, 12))
    assert small.heatmap.shape == (9, 12)
