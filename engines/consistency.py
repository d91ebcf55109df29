"""One engine's verdict, class, mask and written explanation read together, so that the GUI and
the report never show them contradicting each other.

The verdict (`engines.verdict`) comes first. The class, the mask at the analyst's threshold and
the explanation are shown beside it with a note wherever they say something else, and a written
explanation is shown as the method's reading only when the verdict, the class and the mask agree
with it; otherwise it is withheld (still available, in a closed box, with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.result import Analysis
from engines.verdict import INCONCLUSIVE, LIKELY_MANIPULATED, NO_EVIDENCE, NOT_RELIABLE, Verdict

CLEAN_LABELS = frozenset({"real", "authentic"})


@dataclass(frozen=True)
class Reading:
    notes: tuple[str, ...]
    """Plain sentences that say how the parts relate; shown under the verdict."""
    explanation_is_finding: bool
    """True when the written explanation may be shown as the method's reading."""
    withheld_because: str = ""


def label_says_manipulated(label: str | None) -> bool | None:
    """What a class label claims: True (an edit or a synthetic image), False (real), None (no label)."""
    if label is None:
        return None
    return label.lower() not in CLEAN_LABELS


def reconcile(analysis: Analysis, verdict: Verdict, threshold: float) -> Reading:
    flagged = bool(analysis.mask_at(threshold).any())
    claims = label_says_manipulated(analysis.label)
    notes = []
    if verdict.band == NOT_RELIABLE:
        parts = "heatmap and mask" + (", class and explanation" if analysis.label or analysis.text else "")
        notes.append(f"The {parts} are the method's raw output, shown for inspection only: they are not a finding.")
    elif verdict.band == LIKELY_MANIPULATED and not flagged:
        notes.append(f"No area passes the mask threshold {threshold:.2f}: the method flags the image as a whole "
                     "but does not localise the edit.")
    elif verdict.band == NO_EVIDENCE and flagged:
        notes.append(f"Areas pass the mask threshold {threshold:.2f} although the image score is low: read them "
                     "as places to look, not as findings.")
    elif verdict.band == INCONCLUSIVE:
        notes.append("The score lies between the bands: the image is neither flagged nor cleared.")
    if _class_disagrees(verdict, claims):
        notes.append(f"The method's classifier picked the class '{analysis.label}', which the verdict does "
                     "not support.")
    if not analysis.text:
        return Reading(tuple(notes), explanation_is_finding=False)
    reason = _withhold_reason(verdict, claims, flagged)
    return Reading(tuple(notes), explanation_is_finding=not reason, withheld_because=reason)


def _class_disagrees(verdict: Verdict, claims: bool | None) -> bool:
    """A class says the opposite of a clear verdict ("inconclusive" and "not reliable" say neither)."""
    if claims is None or verdict.band not in (LIKELY_MANIPULATED, NO_EVIDENCE):
        return False
    return claims != (verdict.band == LIKELY_MANIPULATED)


def _withhold_reason(verdict: Verdict, claims: bool | None, flagged: bool) -> str:
    if verdict.band == NOT_RELIABLE:
        return "the method's detection is not reliable enough for a verdict"
    if claims is True and not flagged:
        return "it was written for a manipulated class, but no area passes the mask threshold"
    if claims is False and flagged:
        return "it was written for a real image, but areas pass the mask threshold"
    if _class_disagrees(verdict, claims):
        return "its class disagrees with the verdict"
    return ""
