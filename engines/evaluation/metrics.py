"""Pixel-level and image-level forgery metrics, with streaming accumulators.

The definitions (thresholds, empty-mask conventions, what is averaged) are written down for users
in docs/metrics.md; keep the two in step.

Pixel level, per image, with a heatmap h (float, [0, 1]) and a ground-truth mask g (bool):
the prediction is ``h > threshold`` (0.5); TP/FP/FN/TN count pixels.

- F1 = 2TP / (2TP + FP + FN); IoU = TP / (TP + FP + FN). When the mask and the prediction are
  both empty the denominator is 0 and both are defined as 1 (the prediction is exactly right).
- MCC = (TP·TN − FP·FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)). When the denominator is 0 it is
  1 if the prediction equals the mask (FP = FN = 0), else 0 (scikit-learn's value for the rest).
- AUC: area under the ROC curve of h against g, exact (ties count one half). Undefined (NaN)
  when g is all one class; NaN values are left out of the mean.
- F1-best (oracle): the best F1 over every threshold, including "predict nothing"; it looks at the
  ground truth to choose the threshold, so it is an upper bound, never a deployable score.

Image level, from one score per image against its label (tampered = positive):
AUC, accuracy and balanced accuracy at ``score > 0.5``, and EER (the error rate where the
false-positive rate equals the false-negative rate, interpolated on the ROC curve).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score, roc_curve

DEFAULT_THRESHOLD = 0.5


def _ratio_or_one(numerator: float, denominator: float) -> float:
    """numerator / denominator, with 0/0 read as perfect agreement (both sides empty)."""
    return 1.0 if denominator == 0 else numerator / denominator


def _mcc(tp: float, fp: float, fn: float, tn: float) -> float:
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    if denominator == 0:
        return 1.0 if fp == 0 and fn == 0 else 0.0
    return (tp * tn - fp * fn) / denominator


def _confusion(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, float]:
    """(TP, FP, FN, TN) as floats, so that products in MCC cannot overflow."""
    codes = predicted.ravel().astype(np.uint8) * 2 + truth.ravel()  # 0 TN, 1 FN, 2 FP, 3 TP
    tn, fn, fp, tp = (float(c) for c in np.bincount(codes, minlength=4))
    return tp, fp, fn, tn


def _auc_and_best_f1(heatmap: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Exact ROC AUC and the oracle best F1, from one sort of the pixels."""
    positives = int(truth.sum())
    if positives in (0, truth.size):
        # One class only: AUC is undefined; thresholding below everything (all positive) or above
        # everything (all negative) reproduces the mask exactly, so the oracle F1 is 1.
        return math.nan, 1.0
    fpr, tpr, _ = roc_curve(truth.ravel(), heatmap.ravel(), drop_intermediate=False)
    true_positives = tpr * positives
    false_positives = fpr * (truth.size - positives)
    f1 = 2 * true_positives / (true_positives + false_positives + positives)
    return float(np.trapezoid(tpr, fpr)), float(f1.max())


def pixel_scores(
    heatmap: np.ndarray, gt: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, float]:
    """F1, IoU, MCC at ``heatmap > threshold``, AUC and oracle best F1 of one image.

    Keys: f1, iou, mcc, auc (NaN when gt is all one class), f1_best (oracle).
    """
    heatmap = np.asarray(heatmap, dtype=np.float32)
    truth = np.asarray(gt, dtype=bool)
    if heatmap.shape != truth.shape or heatmap.ndim != 2:
        raise ValueError(f"heatmap {heatmap.shape} and mask {truth.shape} must be the same H×W shape")
    tp, fp, fn, tn = _confusion(heatmap > threshold, truth)
    auc, f1_best = _auc_and_best_f1(heatmap, truth)
    return {
        "f1": _ratio_or_one(2 * tp, 2 * tp + fp + fn),
        "iou": _ratio_or_one(tp, tp + fp + fn),
        "mcc": _mcc(tp, fp, fn, tn),
        "auc": auc,
        "f1_best": f1_best,
    }


def _mean(values: list[float]) -> float:
    """Mean over the non-NaN values; NaN when there are none."""
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


class PixelMetrics:
    """Per-image pixel metrics, averaged over images; keeps only five numbers per image.

    ``add`` takes an image's heatmap, its mask (None for an authentic image, read as an all-False
    mask) and whether it is tampered. A tampered image without a mask (a detection-only list) has
    no pixel truth and is skipped.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._scores: list[tuple[bool, dict[str, float]]] = []

    def add(self, heatmap: np.ndarray, gt: np.ndarray | None, tampered: bool,
            threshold: float | None = None) -> dict[str, float] | None:
        """Score one image, at `threshold` when the result states its own (an engine may lower it
        for one image), else at the metrics' threshold; returns its ``pixel_scores`` (None when it
        was skipped)."""
        if gt is None:
            if tampered:
                return None
            gt = np.zeros(np.shape(heatmap), dtype=bool)
        scores = pixel_scores(heatmap, gt, self.threshold if threshold is None else threshold)
        self._scores.append((bool(tampered), scores))
        return scores

    def result(self, include_authentic: bool = False) -> dict[str, float]:
        """Means over tampered images (and authentic ones too when include_authentic is set).

        Keys: pixel_f1, pixel_iou, pixel_mcc, pixel_auc (NaN images left out), pixel_f1_best_oracle,
        n_images_pixel (how many images were averaged). Every mean is NaN when no image counts.
        """
        chosen = [scores for tampered, scores in self._scores if tampered or include_authentic]
        return {
            "pixel_f1": _mean([s["f1"] for s in chosen]),
            "pixel_iou": _mean([s["iou"] for s in chosen]),
            "pixel_mcc": _mean([s["mcc"] for s in chosen]),
            "pixel_auc": _mean([s["auc"] for s in chosen]),
            "pixel_f1_best_oracle": _mean([s["f1_best"] for s in chosen]),
            "n_images_pixel": len(chosen),
        }


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """The rate where false positives equal false negatives, linearly interpolated on the ROC."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    gap = fpr - (1.0 - tpr)  # non-decreasing along the curve, from -1 to +1
    crossing = int(np.argmax(gap >= 0))
    if crossing == 0 or gap[crossing] == 0:
        return float(fpr[crossing])
    before, after = gap[crossing - 1], gap[crossing]
    fraction = -before / (after - before)
    return float(fpr[crossing - 1] + fraction * (fpr[crossing] - fpr[crossing - 1]))


class ImageMetrics:
    """Image-level detection metrics from one score per image (tampered = positive class)."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._scores: list[float] = []
        self._labels: list[bool] = []

    def add(self, score: float, tampered: bool) -> None:
        self._scores.append(float(score))
        self._labels.append(bool(tampered))

    def result(self) -> dict[str, float]:
        """Keys: image_auc, image_acc, image_balanced_acc, image_eer, n_images_image.

        AUC, balanced accuracy and EER need both classes and are NaN otherwise; accuracy is NaN
        only when no image was added.
        """
        scores = np.asarray(self._scores, dtype=np.float64)
        labels = np.asarray(self._labels, dtype=bool)
        predicted = scores > self.threshold
        accuracy = float(np.mean(predicted == labels)) if labels.size else math.nan
        if not 0 < labels.sum() < labels.size:
            return {
                "image_auc": math.nan,
                "image_acc": accuracy,
                "image_balanced_acc": math.nan,
                "image_eer": math.nan,
                "n_images_image": int(labels.size),
            }
        return {
            "image_auc": float(roc_auc_score(labels, scores)),
            "image_acc": accuracy,
            "image_balanced_acc": float(balanced_accuracy_score(labels, predicted)),
            "image_eer": equal_error_rate(scores, labels),
            "n_images_image": int(labels.size),
        }
