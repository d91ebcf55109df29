"""Metric definitions checked against cases worked out by hand (see docs/metrics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score, matthews_corrcoef, roc_auc_score

from engines.evaluation.metrics import ImageMetrics, PixelMetrics, equal_error_rate, pixel_scores


@pytest.fixture
def hand_case() -> tuple[np.ndarray, np.ndarray]:
    """4×4: 3 tampered pixels; at 0.5, TP=2, FN=1, FP=1, TN=12.

    Positives score 0.9, 0.8, 0.2; the false positive 0.7; the 12 other negatives 0.1.
    """
    gt = np.zeros((4, 4), dtype=bool)
    gt[0, 0] = gt[0, 1] = gt[0, 2] = True
    heatmap = np.full((4, 4), 0.1, dtype=np.float32)
    heatmap[0, 0], heatmap[0, 1], heatmap[0, 2] = 0.9, 0.8, 0.2
    heatmap[3, 3] = 0.7
    return heatmap, gt


def test_hand_computed_scores(hand_case):
    scores = pixel_scores(*hand_case)
    assert scores["f1"] == pytest.approx(2 / 3)  # 2·2 / (2·2 + 1 + 1)
    assert scores["iou"] == pytest.approx(1 / 2)  # 2 / (2 + 1 + 1)
    assert scores["mcc"] == pytest.approx(23 / 39)  # (2·12 − 1·1) / sqrt(3·3·13·13)
    # 39 positive/negative pairs; only (0.2 vs 0.7) is ranked wrongly.
    assert scores["auc"] == pytest.approx(38 / 39)
    # Best threshold keeps all three positives and the 0.7 negative: 2·3 / (4 + 3).
    assert scores["f1_best"] == pytest.approx(6 / 7)


def test_threshold_is_strict(hand_case):
    heatmap, gt = hand_case
    heatmap = heatmap.copy()
    heatmap[0, 2] = 0.5  # exactly at the threshold: still predicted authentic
    assert pixel_scores(heatmap, gt)["f1"] == pytest.approx(2 / 3)


def test_perfect_and_inverted_predictions():
    gt = np.zeros((8, 8), dtype=bool)
    gt[2:5, 3:7] = True
    perfect = pixel_scores(gt.astype(np.float32), gt)
    assert perfect == {"f1": 1.0, "iou": 1.0, "mcc": 1.0, "auc": 1.0, "f1_best": 1.0}
    inverted = pixel_scores((~gt).astype(np.float32), gt)
    assert inverted["f1"] == 0.0
    assert inverted["iou"] == 0.0
    assert inverted["mcc"] == pytest.approx(-1.0)
    assert inverted["auc"] == 0.0


def test_perfectly_ranked_map_has_auc_one_even_below_threshold():
    gt = np.zeros((6, 6), dtype=bool)
    gt[:2] = True
    heatmap = np.where(gt, 0.3, 0.1).astype(np.float32)  # nothing above 0.5, ranking perfect
    scores = pixel_scores(heatmap, gt)
    assert scores["auc"] == 1.0
    assert scores["f1"] == 0.0
    assert scores["f1_best"] == 1.0


def test_matches_scikit_learn_on_random_maps():
    rng = np.random.default_rng(0)
    gt = rng.random((60, 80)) < 0.3
    # Two decimals: many ties, which AUC must count one half, and few thresholds to brute-force.
    heatmap = np.round(0.35 * gt + 0.65 * rng.random(gt.shape), 2).astype(np.float32)
    scores = pixel_scores(heatmap, gt)
    predicted = (heatmap > 0.5).ravel()
    assert scores["f1"] == pytest.approx(f1_score(gt.ravel(), predicted))
    assert scores["iou"] == pytest.approx(jaccard_score(gt.ravel(), predicted))
    assert scores["mcc"] == pytest.approx(matthews_corrcoef(gt.ravel(), predicted))
    assert scores["auc"] == pytest.approx(roc_auc_score(gt.ravel(), heatmap.ravel()))
    best_by_brute_force = max(f1_score(gt.ravel(), (heatmap >= t).ravel()) for t in np.unique(heatmap))
    assert scores["f1_best"] == pytest.approx(best_by_brute_force)


def test_empty_mask_conventions():
    gt = np.zeros((4, 4), dtype=bool)
    clean = pixel_scores(np.zeros((4, 4), dtype=np.float32), gt)
    assert (clean["f1"], clean["iou"], clean["mcc"], clean["f1_best"]) == (1.0, 1.0, 1.0, 1.0)
    assert math.isnan(clean["auc"])
    false_alarm = np.zeros((4, 4), dtype=np.float32)
    false_alarm[0, 0] = 0.9
    noisy = pixel_scores(false_alarm, gt)
    assert (noisy["f1"], noisy["iou"], noisy["mcc"]) == (0.0, 0.0, 0.0)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same"):
        pixel_scores(np.zeros((4, 4)), np.zeros((4, 5), dtype=bool))


def test_pixel_metrics_averages_tampered_images_by_default(hand_case):
    heatmap, gt = hand_case
    metrics = PixelMetrics()
    metrics.add(gt.astype(np.float32), gt, tampered=True)  # perfect: F1 1
    metrics.add(heatmap, gt, tampered=True)  # F1 2/3
    metrics.add(np.full((4, 4), 0.9, dtype=np.float32), None, tampered=False)  # false alarm: F1 0
    metrics.add(heatmap, None, tampered=True)  # detection-only: no pixel truth, skipped
    default = metrics.result()
    assert default["n_images_pixel"] == 2
    assert default["pixel_f1"] == pytest.approx((1 + 2 / 3) / 2)
    assert default["pixel_iou"] == pytest.approx((1 + 1 / 2) / 2)
    assert default["pixel_auc"] == pytest.approx((1 + 38 / 39) / 2)
    assert default["pixel_f1_best_oracle"] == pytest.approx((1 + 6 / 7) / 2)
    everything = metrics.result(include_authentic=True)
    assert everything["n_images_pixel"] == 3
    assert everything["pixel_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    # The authentic image's AUC is undefined and left out of the mean, not counted as 0.
    assert everything["pixel_auc"] == pytest.approx(default["pixel_auc"])


def test_pixel_metrics_add_returns_the_image_scores(hand_case):
    metrics = PixelMetrics()
    assert metrics.add(*hand_case, tampered=True) == pixel_scores(*hand_case)
    assert metrics.add(hand_case[0], None, tampered=True) is None


def test_pixel_metrics_without_images_is_nan():
    result = PixelMetrics().result()
    assert result["n_images_pixel"] == 0
    assert all(math.isnan(v) for k, v in result.items() if k != "n_images_pixel")


def test_image_metrics_perfect_separation():
    metrics = ImageMetrics()
    for score, tampered in [(0.9, True), (0.8, True), (0.6, True), (0.4, False), (0.1, False)]:
        metrics.add(score, tampered)
    result = metrics.result()
    assert result == {
        "image_auc": 1.0,
        "image_acc": 1.0,
        "image_balanced_acc": 1.0,
        "image_eer": 0.0,
        "n_images_image": 5,
    }


def test_image_metrics_hand_case():
    metrics = ImageMetrics()
    # Tampered 0.9, 0.3; authentic 0.7, 0.2, 0.1. At 0.5: TP=1, FN=1, FP=1, TN=2.
    for score, tampered in [(0.9, True), (0.3, True), (0.7, False), (0.2, False), (0.1, False)]:
        metrics.add(score, tampered)
    result = metrics.result()
    assert result["image_acc"] == pytest.approx(3 / 5)
    assert result["image_balanced_acc"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert result["image_auc"] == pytest.approx(5 / 6)  # 6 pairs, only (0.3 vs 0.7) wrong
    # ROC points (FPR, TPR): (0,0) (0,.5) (1/3,.5) (1/3,1) ... ; FPR = FNR = 1/3 on the
    # segment from (1/3, .5) to (1/3, 1).
    assert result["image_eer"] == pytest.approx(1 / 3)


def test_eer_of_identical_scores_is_one_half():
    assert equal_error_rate(np.full(6, 0.5), np.array([1, 1, 1, 0, 0, 0], dtype=bool)) == 0.5


def test_image_metrics_one_class_only_is_nan_where_undefined():
    metrics = ImageMetrics()
    metrics.add(0.9, True)
    metrics.add(0.2, True)
    result = metrics.result()
    assert result["image_acc"] == 0.5
    assert math.isnan(result["image_auc"])
    assert math.isnan(result["image_balanced_acc"])
    assert math.isnan(result["image_eer"])
    assert math.isnan(ImageMetrics().result()["image_acc"])


def test_pixel_metrics_score_an_image_at_the_threshold_its_result_states():
    """An engine may cut one image's mask lower (IFDL-VLM's tampered class always has a region):
    the evaluation scores the mask the result shows, not the engine's usual cut."""
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[:2, :2] = 0.3
    truth = np.zeros((4, 4), bool)
    truth[:2, :2] = True
    metrics = PixelMetrics(threshold=0.5)
    assert metrics.add(heatmap, truth, True)["f1"] == 0.0
    assert metrics.add(heatmap, truth, True, threshold=0.15)["f1"] == 1.0
