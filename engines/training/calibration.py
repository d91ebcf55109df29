"""What a trained engine's raw outputs mean, fitted on its synthetic validation split only.

Two things are fitted once, when the weights are exported, and stored in their metadata
(`engines.store.trained_weights`):
- the pixel threshold that maximises the mean per-image F1 over the validation split's tampered
  samples (a fixed 0.5 is rarely right for a model trained on imbalanced pixels);
- a monotone map from the raw image score to a probability (Platt scaling: a logistic regression
  on the score's logit, scikit-learn), so that "0.8" means about 80 % of such validation images
  were tampered, with authentic and tampered images weighted as equally common (a split's own mix,
  e.g. IFDL-VLM's three classes with one real in four, says nothing about the images analysed).

Never fit these on a benchmark: the numbers in `validation` say what they were fitted on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engines.evaluation.metrics import pixel_scores

THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.05, 0.96, 0.05))
"""Candidate pixel thresholds."""
LOGIT_EPS = 1e-6


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPS, 1 - LOGIT_EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    pixel_threshold: float
    score_slope: float
    score_intercept: float
    method: str = "platt"
    fitted_on: str = "synthetic validation split"
    validation: dict[str, Any] = field(default_factory=dict)
    """Counts and the validation metrics before and after calibration."""

    def calibrate_score(self, raw: float) -> float:
        z = self.score_slope * float(_logit(raw)) + self.score_intercept
        return float(1.0 / (1.0 + np.exp(-z)))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        return cls(**json.loads(text))

    def describe(self) -> dict[str, Any]:
        """For provenance: what the numbers shown were calibrated with."""
        return {"method": self.method, "fitted_on": self.fitted_on,
                "pixel_threshold": self.pixel_threshold, **self.validation}


def mean_pixel_f1(heatmaps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None], threshold: float) -> float:
    """The mean per-image F1 at `threshold` over the tampered samples."""
    pairs = [(h, m) for h, m in zip(heatmaps, masks, strict=True) if m is not None and m.any()]
    if not pairs:
        raise ValueError("the validation split holds no tampered sample to fit a pixel threshold on")
    return float(np.mean([pixel_scores(h, m, threshold)["f1"] for h, m in pairs]))


def best_pixel_threshold(heatmaps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> tuple[float, dict[float, float]]:
    """The threshold (of THRESHOLDS) with the highest mean per-image F1 over tampered samples."""
    means = {t: mean_pixel_f1(heatmaps, masks, t) for t in THRESHOLDS}
    best = max(means, key=lambda t: (means[t], -abs(t - 0.5)))
    return best, means


def has_both_classes(labels: Sequence[bool]) -> bool:
    """Whether validation labels hold authentic and tampered samples: a score map needs both."""
    return 0 < sum(bool(label) for label in labels) < len(labels)


def fit_calibration(heatmaps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None],
                    scores: Sequence[float], labels: Sequence[bool],
                    pixel_threshold: float | None = None) -> Calibration:
    """Fit the pixel threshold and the Platt map on validation predictions (see module doc).
    A given `pixel_threshold` is kept, not fitted: a training-free engine whose image score is
    computed from its own mask would otherwise have its score change under the fitted map."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    if not has_both_classes(labels):
        raise ValueError("score calibration needs authentic and tampered validation samples")
    labels_array = np.asarray(labels, dtype=int)
    if pixel_threshold is None:
        threshold, f1_by_threshold = best_pixel_threshold(heatmaps, masks)
    else:
        threshold = pixel_threshold
        f1_by_threshold = {t: mean_pixel_f1(heatmaps, masks, t) for t in {threshold, 0.5}}
    features = _logit(np.asarray(scores))[:, None]
    platt = LogisticRegression(C=1e4, class_weight="balanced").fit(features, labels_array)
    calibration = Calibration(pixel_threshold=threshold, score_slope=float(platt.coef_[0, 0]),
                              score_intercept=float(platt.intercept_[0]))
    calibrated = np.array([calibration.calibrate_score(s) for s in scores])
    validation = {
        "n_images": int(len(labels_array)),
        "n_tampered": int(labels_array.sum()),
        "pixel_f1_at_0.5": round(f1_by_threshold[0.5], 4),
        "pixel_f1_at_threshold": round(f1_by_threshold[threshold], 4),
        "image_auc": round(float(roc_auc_score(labels_array, scores)), 4),
        "image_acc_raw_at_0.5": round(float(np.mean((np.asarray(scores) > 0.5) == labels_array)), 4),
        "image_acc_calibrated_at_0.5": round(float(np.mean((calibrated > 0.5) == labels_array)), 4),
    }
    return Calibration(**{**asdict(calibration), "validation": validation})

