"""The check every IFDL-VLM explanation passes before it is shown: all five sections are there,
and what they say agrees with the class and the mask (a real class gets no edit, a tampered one an
edit in the flagged region, a fully synthetic one the whole image). It returns plain sentences;
none means the text is consistent."""

from __future__ import annotations

from typing import Any

from engines.ifdl_vlm.teacher import AUTHENTIC_SUMMARY, split_sections


def explanation_problems(text: str, label: str, region: dict[str, Any] | None) -> list[str]:
    sections = split_sections(text)
    problems = [f"the {name} section is missing" for name, body in sections.items() if not body]
    kind, areas, summary = sections["Type"].lower(), sections["Areas"], sections["Summary"]
    if label == "tampered":
        if region is None:
            return [*problems, "the class is tampered but no region is flagged"]
        if kind in ("none", "") or "synthetic" in kind:
            problems.append(f"the Type '{sections['Type']}' does not name an edit, but the class is tampered")
        area_words = f"{100 * region['area_fraction']:.1f}%"
        if region["location"] not in areas or area_words not in areas:
            problems.append(f"the Areas section does not give the flagged region ({region['location']}, {area_words})")
        if not summary.startswith("Tampered") or region["location"] not in summary:
            problems.append("the Summary does not say the flagged region was tampered")
    elif label == "fully synthetic":
        if "synthetic" not in kind or areas != "the whole image" or not summary.startswith("Fully synthetic"):
            problems.append("the text does not describe a fully synthetic image")
    else:
        if region is not None:
            problems.append(f"the class is {label} but a region is flagged")
        if kind != "none" or areas != "none" or summary != AUTHENTIC_SUMMARY:
            problems.append(f"the text describes an edit, but the class is {label}")
    return problems
