"""Verdict bands, the reliability file and the rules that withhold a verdict (engines.verdict), and
how a verdict, class, mask and explanation are read together (engines.consistency)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.consistency import reconcile
from engines.result import Analysis, Provenance
from engines.verdict import (
    INCONCLUSIVE,
    LIKELY_MANIPULATED,
    NO_EVIDENCE,
    NOT_RELIABLE,
    BenchmarkResult,
    Reliability,
    ReliabilityTable,
    analysis_verdict,
    band_of,
    load_reliability,
    verdict_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import reliability as reliability_bench  # noqa: E402

WEIGHTS = {"model.safetensors": "ab" * 32}
CALIBRATION = {"method": "platt", "fitted_on": "synthetic validation split", "pixel_threshold": 0.35}


def _measured(auc: float, weights: dict[str, str] = WEIGHTS) -> ReliabilityTable:
    result = BenchmarkResult("casia1", n_tampered=920, n_authentic=800, image_auc=auc, pixel_f1=0.2,
                             likely_count=50, likely_precision=0.86)
    return ReliabilityTable((Reliability("clue", "compact", weights, True, (result,)),))


def test_bands_have_fixed_limits():
    assert [band_of(p) for p in (0.95, 0.8, 0.79, 0.5, 0.21, 0.2, 0.0)] == [
        LIKELY_MANIPULATED, LIKELY_MANIPULATED, INCONCLUSIVE, INCONCLUSIVE, INCONCLUSIVE, NO_EVIDENCE, NO_EVIDENCE]


def test_a_calibrated_measured_useful_engine_gets_a_band_with_its_reliability_in_words():
    verdict = verdict_for("clue", "compact", WEIGHTS, 0.91, CALIBRATION, _measured(0.71))
    assert verdict.band == LIKELY_MANIPULATED and verdict.headline == "Likely manipulated"
    assert "CASIA v1 (920 manipulated, 800 authentic images) image AUC 0.71, pixel F1 0.20" in verdict.reliability
    assert '86% of the 50 images it called "likely manipulated" were manipulated' in verdict.reliability
    assert "calibrated probability of manipulation 0.91" == verdict.score_words


@pytest.mark.parametrize(("weights", "calibration", "auc", "reason"), [
    (WEIGHTS, None, 0.71, "not calibrated"),
    ({"other.safetensors": "cd" * 32}, CALIBRATION, 0.71, "not the ones measured"),
    (WEIGHTS, CALIBRATION, 0.55, "below 0.60 on every benchmark"),
])
def test_no_verdict_when_uncalibrated_unmeasured_or_near_chance(weights, calibration, auc, reason):
    verdict = verdict_for("clue", "compact", weights, 0.95, calibration, _measured(auc))
    assert verdict.band == NOT_RELIABLE and verdict.headline == "Detection not reliable enough for a verdict"
    assert any(reason in text for text in verdict.reasons)
    assert "image AUC" in verdict.reliability  # the numbers are still shown


def test_an_uncalibrated_engine_is_not_said_to_have_called_images_likely_manipulated():
    result = BenchmarkResult("casia1", n_tampered=920, n_authentic=800, image_auc=0.69, pixel_f1=0.24,
                             likely_count=304, likely_precision=0.9572)
    table = ReliabilityTable((Reliability("classic", "compact", {}, False, (result,)),))
    verdict = verdict_for("classic", "compact", {}, 0.9, None, table)
    assert verdict.band == NOT_RELIABLE and "called" not in verdict.reliability
    assert "96% of the 304 images whose raw score reached 0.80 were manipulated" in verdict.reliability


def test_an_engine_missing_from_the_reliability_file_was_not_measured(tmp_path: Path):
    assert load_reliability(tmp_path / "absent.json").entries == ()
    verdict = verdict_for("clue", "compact", WEIGHTS, 0.95, CALIBRATION, ReliabilityTable())
    assert verdict.band == NOT_RELIABLE and verdict.reliability == "Not measured on the project's benchmarks."


def _evaluation(dataset: str, scores: list[tuple[float, bool]], weights=WEIGHTS) -> dict:
    return {"engine": "clue", "profile": "compact", "dataset": dataset, "perturbation": "none", "weights": weights,
            "calibrated": True, "n_tampered": sum(t for _, t in scores), "n_authentic": sum(not t for _, t in scores),
            "image_auc": 0.7, "pixel_f1": 0.25, "commit": "abc", "date": "2026-11-29",
            "per_image": [{"image": f"{i}.jpg", "tampered": t, "score": s} for i, (s, t) in enumerate(scores)]}


def test_the_bench_script_measures_band_precision_and_keeps_other_engines(tmp_path: Path):
    path = tmp_path / "reliability.json"
    other = Reliability("classic", "compact", {}, False, ())
    path.write_text(json.dumps({"entries": [other.to_dict()]}))
    scores = [(0.9, True), (0.85, True), (0.95, False), (0.5, True), (0.1, False)]
    entries = reliability_bench.reliability_entries([_evaluation("/data/casia1", scores)])
    path.write_text(json.dumps(reliability_bench.merge(entries, path)))
    table = load_reliability(path)
    assert [e.engine for e in table.entries] == ["classic", "clue"]
    measured = table.find("clue", "compact").benchmarks[0]
    assert (measured.benchmark, measured.likely_count, measured.likely_precision) == ("casia1", 3, 0.6667)
    assert verdict_for("clue", "compact", WEIGHTS, 0.9, CALIBRATION, table).band == LIKELY_MANIPULATED
    with pytest.raises(SystemExit, match="different weights"):
        reliability_bench.reliability_entries([_evaluation("casia1", scores), _evaluation("coverage", scores, {})])


def _analysis(score: float, mask: bool, label: str | None = None, text: str | None = None) -> Analysis:
    heatmap = np.zeros((32, 32), np.float32)
    if mask:
        heatmap[8:16, 8:16] = 0.9
    provenance = Provenance("ifdl_vlm", "compact", "cpu", WEIGHTS, {"calibration": CALIBRATION})
    return Analysis(heatmap=heatmap, mask=heatmap > 0.5, score=score, provenance=provenance, label=label, text=text)


def test_class_mask_and_explanation_never_contradict_the_verdict():
    table = _measured(0.8)
    table = ReliabilityTable((Reliability("ifdl_vlm", "compact", WEIGHTS, True, table.entries[0].benchmarks),))
    agreeing = _analysis(0.9, mask=True, label="tampered", text="Tampered: the pasted region.")
    assert reconcile(agreeing, analysis_verdict(agreeing, table), 0.5).explanation_is_finding
    no_region = _analysis(0.9, mask=False, label="tampered", text="Type: none. The image appears authentic.")
    reading = reconcile(no_region, analysis_verdict(no_region, table), 0.5)
    assert not reading.explanation_is_finding and "no area passes" in reading.withheld_because
    assert any("does not localise" in note for note in reading.notes)
    low = _analysis(0.1, mask=True, label="tampered", text="Tampered: the pasted region.")
    reading = reconcile(low, analysis_verdict(low, table), 0.5)
    assert not reading.explanation_is_finding and any("places to look" in note for note in reading.notes)
    unreliable = _analysis(0.9, mask=True, label="tampered", text="Tampered.")
    reading = reconcile(unreliable, analysis_verdict(unreliable, ReliabilityTable()), 0.5)
    assert not reading.explanation_is_finding and "not a finding" in reading.notes[0]


def test_the_same_weights_under_another_file_name_count_as_measured():
    """Evaluations may load a run's weights.safetensors that is then shipped as compact.safetensors."""
    renamed = {"compact.safetensors": WEIGHTS["model.safetensors"]}
    verdict = verdict_for("clue", "compact", renamed, 0.91, CALIBRATION, _measured(0.71))
    assert verdict.band == LIKELY_MANIPULATED
