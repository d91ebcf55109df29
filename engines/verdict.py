"""The verdict an analyst reads for one engine's image score, and that engine's measured
reliability in plain words.

Bands, on the engine's calibrated probability p that the image was manipulated (calibration is
fitted on the engine's synthetic validation split and stored with its weights, `engines.training.calibration`):

- p ≥ 0.80: "likely manipulated";
- p ≤ 0.20: "no evidence found";
- in between: "inconclusive".

The limits are fixed here, chosen before any benchmark was looked at and never fitted on one: a
calibrated 0.8 means about four in five such validation images were manipulated. The precision
that "likely manipulated" actually reaches on each benchmark is measured by
`bench/reliability.py` and written, with image AUC and pixel F1, to `assets/reliability.json`.

Instead of a band, an engine gets "not reliable" ("detection not reliable enough for a verdict",
shown with its numbers) when any of these holds:
- its score is not calibrated (its provenance carries no `calibration`);
- its current weights were never measured (no entry for the engine, profile and exactly these
  weights' sha256 in the reliability file);
- its measured image AUC is below 0.60 on every benchmark (near chance: 0.5).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engines.result import Analysis
from engines.settings import get_settings

LIKELY_FROM = 0.80
NO_EVIDENCE_UP_TO = 0.20
MIN_USEFUL_AUC = 0.60

LIKELY_MANIPULATED = "likely manipulated"
INCONCLUSIVE = "inconclusive"
NO_EVIDENCE = "no evidence found"
NOT_RELIABLE = "not reliable"
NOT_RELIABLE_HEADLINE = "Detection not reliable enough for a verdict"
BANDS = (LIKELY_MANIPULATED, INCONCLUSIVE, NO_EVIDENCE, NOT_RELIABLE)

BENCHMARK_TITLES = {"casia1": "CASIA v1", "coverage": "COVERAGE"}
RELIABILITY_FILE = "reliability.json"


def band_of(probability: float) -> str:
    """The band of a calibrated probability (the limits above)."""
    if probability >= LIKELY_FROM:
        return LIKELY_MANIPULATED
    return NO_EVIDENCE if probability <= NO_EVIDENCE_UP_TO else INCONCLUSIVE


@dataclass(frozen=True)
class BenchmarkResult:
    """One engine's numbers on one complete benchmark."""

    benchmark: str
    n_tampered: int
    n_authentic: int
    image_auc: float | None
    pixel_f1: float | None
    likely_count: int
    """Benchmark images whose score fell in the "likely manipulated" band."""
    likely_precision: float | None
    """Fraction of those that were manipulated (None when there were none)."""

    @property
    def title(self) -> str:
        return BENCHMARK_TITLES.get(self.benchmark, self.benchmark)

    def words(self, calibrated: bool = True) -> str:
        """In plain words; an uncalibrated engine's band is only where its raw score reached the limit."""
        auc = "n/a" if self.image_auc is None else f"{self.image_auc:.2f}"
        f1 = "n/a" if self.pixel_f1 is None else f"{self.pixel_f1:.2f}"
        called = 'it called "likely manipulated"' if calibrated else f"whose raw score reached {LIKELY_FROM:.2f}"
        if self.likely_precision is None:
            band = f"no image {called}"
        else:
            band = f"{self.likely_precision:.0%} of the {self.likely_count} images {called} were manipulated"
        return (f"on {self.title} ({self.n_tampered} manipulated, {self.n_authentic} authentic images) "
                f"image AUC {auc}, pixel F1 {f1}; {band}")


@dataclass(frozen=True)
class Reliability:
    """What the benchmarks measured for one engine, profile and set of weights."""

    engine: str
    profile: str
    weights: dict[str, str]
    """Weight name -> sha256, as in `Provenance.weights` (empty for training-free engines)."""
    calibrated: bool
    benchmarks: tuple[BenchmarkResult, ...]
    commit: str = ""
    date: str = ""

    @property
    def near_chance(self) -> bool:
        """Image AUC below MIN_USEFUL_AUC on every benchmark (or no AUC at all)."""
        return all(b.image_auc is None or b.image_auc < MIN_USEFUL_AUC for b in self.benchmarks)

    def words(self) -> str:
        if not self.benchmarks:
            return "Measured on no benchmark."
        parts = "; ".join(b.words(self.calibrated) for b in self.benchmarks)
        return (f"Measured {parts}. Image AUC: 0.5 is chance, 1 is perfect; pixel F1: overlap of "
                "its mask with the true edit, 0 to 1.")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "benchmarks": [asdict(b) for b in self.benchmarks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reliability:
        benchmarks = tuple(BenchmarkResult(**b) for b in data.get("benchmarks", []))
        return cls(**{**data, "benchmarks": benchmarks})


@dataclass(frozen=True)
class ReliabilityTable:
    entries: tuple[Reliability, ...] = ()

    def find(self, engine: str, profile: str) -> Reliability | None:
        return next((e for e in self.entries if (e.engine, e.profile) == (engine, profile)), None)


def reliability_path() -> Path:
    return get_settings().assets_dir / RELIABILITY_FILE


def load_reliability(path: Path | None = None) -> ReliabilityTable:
    """The measured reliability of every engine (an empty table when the file does not exist)."""
    path = path or reliability_path()
    if not path.is_file():
        return ReliabilityTable()
    data = json.loads(path.read_text())
    return ReliabilityTable(tuple(Reliability.from_dict(entry) for entry in data.get("entries", [])))


@dataclass(frozen=True)
class Verdict:
    band: str
    score: float
    calibrated: bool
    reliability: str
    """The engine's measured reliability in plain words."""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    """Why there is no verdict (band "not reliable"); empty otherwise."""

    @property
    def headline(self) -> str:
        if self.band == NOT_RELIABLE:
            return NOT_RELIABLE_HEADLINE
        return self.band.capitalize()

    @property
    def score_words(self) -> str:
        if self.calibrated:
            return f"calibrated probability of manipulation {self.score:.2f}"
        return f"raw score {self.score:.2f} (not a probability: the score is not calibrated)"

    def to_dict(self) -> dict[str, Any]:
        return {"band": self.band, "headline": self.headline, "score": round(self.score, 4),
                "calibrated": self.calibrated, "score_words": self.score_words,
                "reliability": self.reliability, "reasons": list(self.reasons),
                "bands": {"likely_manipulated_from": LIKELY_FROM, "no_evidence_up_to": NO_EVIDENCE_UP_TO,
                          "min_useful_image_auc": MIN_USEFUL_AUC}}


def verdict_for(engine: str, profile: str, weights: dict[str, str], score: float,
                calibration: dict[str, Any] | None, table: ReliabilityTable | None = None) -> Verdict:
    """The verdict for one score of `engine` (see the module doc for the rules)."""
    table = load_reliability() if table is None else table
    measured = table.find(engine, profile)
    calibrated = calibration is not None
    reasons = []
    if not calibrated:
        reasons.append("its score is not calibrated, so it cannot be read as a probability")
    if measured is None:
        reasons.append("it was never measured on the project's benchmarks")
        reliability = "Not measured on the project's benchmarks."
    elif sorted(measured.weights.values()) != sorted(weights.values()):  # the files' bytes, not their names
        reasons.append("the weights in use are not the ones measured on the benchmarks")
        reliability = f"Not measured with these weights (numbers for other weights: {measured.words()})"
    else:
        reliability = measured.words()
        if measured.near_chance:
            reasons.append(f"its image AUC is below {MIN_USEFUL_AUC:.2f} on every benchmark, near chance (0.5)")
    band = NOT_RELIABLE if reasons else band_of(score)
    return Verdict(band=band, score=float(score), calibrated=calibrated, reliability=reliability,
                   reasons=tuple(reasons))


def analysis_verdict(analysis: Analysis, table: ReliabilityTable | None = None) -> Verdict:
    """The verdict for an analysis, from its score and provenance."""
    record = analysis.provenance
    return verdict_for(record.engine, record.profile, record.weights, analysis.score,
                       record.parameters.get("calibration"), table)
