"""The one output contract every engine returns (after PhotoHolmes' single output type)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Provenance:
    """Everything needed to say which computation produced a result."""

    engine: str
    profile: str
    device: str
    weights: dict[str, str] = field(default_factory=dict)
    """Weight name -> sha256 of the file that was loaded (empty for training-free engines)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "profile": self.profile,
            "device": self.device,
            "weights": dict(self.weights),
            "parameters": dict(self.parameters),
            "seconds": round(self.seconds, 4),
        }


@dataclass
class Analysis:
    """Result of analysing one image, always at the original image size.

    heatmap: float32 H×W in [0, 1], the probability that each pixel was manipulated.
    mask: bool H×W, the engine's own binary decision (threshold documented per engine).
    score: image-level probability that the image was manipulated, in [0, 1].
    maps: named extra float32 H×W evidence maps (perturbation shift per scale, latent anomaly per
        noise level, edge cues per scale, ELA, noise residual ...), each scaled to [0, 1].
    label / text: IFDL-VLM's predicted class and written explanation (None for other engines).
    evidence: measured numbers that back the explanation (region box, area, cue values ...).
    """

    heatmap: np.ndarray
    mask: np.ndarray
    score: float
    provenance: Provenance
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    label: str | None = None
    text: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.heatmap = np.asarray(self.heatmap, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.heatmap.ndim != 2:
            raise ValueError(f"heatmap must be H×W, got shape {self.heatmap.shape}")
        if self.mask.shape != self.heatmap.shape:
            raise ValueError(f"mask shape {self.mask.shape} != heatmap shape {self.heatmap.shape}")
        if not np.isfinite(self.heatmap).all():
            raise ValueError("heatmap contains NaN or infinite values")
        if self.heatmap.size and (self.heatmap.min() < 0.0 or self.heatmap.max() > 1.0):
            raise ValueError("heatmap values must lie in [0, 1]")
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"score must lie in [0, 1], got {self.score}")
        self.score = float(self.score)
        for name, extra in list(self.maps.items()):
            extra = np.asarray(extra, dtype=np.float32)
            if extra.shape != self.heatmap.shape:
                raise ValueError(f"map {name!r} has shape {extra.shape}, expected {self.heatmap.shape}")
            self.maps[name] = extra

    @property
    def threshold(self) -> float:
        """The threshold this result's mask was cut at: the engine's own (calibrated) one, or one
        it lowered for this image (IFDL-VLM gives a tampered class a region)."""
        return float(self.provenance.parameters.get("threshold", 0.5))

    def mask_at(self, threshold: float) -> np.ndarray:
        """The decision at another threshold; strictly above, as the metrics count it."""
        return self.heatmap > threshold

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the analysed image."""
        return self.heatmap.shape  # type: ignore[return-value]

    def summary(self) -> dict[str, Any]:
        """JSON-ready description without the pixel arrays."""
        return {
            "score": round(self.score, 6),
            "mask_fraction": float(self.mask.mean()) if self.mask.size else 0.0,
            "maps": sorted(self.maps),
            "label": self.label,
            "text": self.text,
            "evidence": self.evidence,
            "provenance": self.provenance.to_dict(),
        }
