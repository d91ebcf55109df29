"""The explanation IFDL-VLM shows, consistent with its class and mask by construction.

Of the five sections (`teacher.py`), Areas and Visual inconsistencies restate stage 1's region and
the measured cues, and for a real or fully synthetic class every section is fixed by the class:
these are written from the numbers, in the very sentences stage 2 was trained to reproduce, so they
cannot contradict the class or the mask. The language model writes what needs the image: for an
image classified tampered, the kind of edit (Type) and what it changed (Tampered content), one line
each after a forced section header. A Type outside the kinds it was trained on, or a content line
of another kind than its Type, is replaced by the generic wording ("manipulation"), so the text
never says "none" or "fully synthetic" for a tampered class. The summary follows from the class,
the region and the Type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engines.ifdl_vlm.teacher import (
    FULLY_SYNTHETIC_EDIT, GENERIC_EDIT, SECTIONS, cue_sentence, edit_of_type, join_sections, region_phrase,
    tampered_summary, teacher_sections,
)

WriteLine = Callable[[str], str]
"""The answer written so far (ending in a section header) -> the model's rest of that line."""


def compose_explanation(label: str, evidence: dict[str, Any], write_line: WriteLine) -> str:
    if label == "fully synthetic":
        return join_sections(teacher_sections(FULLY_SYNTHETIC_EDIT, {}, evidence))
    region = evidence.get("region")
    if label != "tampered":
        return join_sections(teacher_sections("none", {}, {**evidence, "region": None}))
    if region is None:
        raise ValueError("a tampered class needs a region to explain")
    entry = edit_of_type(write_line(f"{SECTIONS[0]}:")) or GENERIC_EDIT
    type_text, content_template, verb = entry
    areas = region_phrase(region)
    content = write_line(f"{SECTIONS[0]}: {type_text}\n{SECTIONS[1]}: {areas}\n{SECTIONS[2]}:")
    if not fits_template(content, content_template):
        content = content_template.format(change="appearance", fill="automatic")
    return join_sections((type_text, areas, content, cue_sentence(evidence), tampered_summary(region, verb)))


def fits_template(text: str, template: str) -> bool:
    """Whether `text` is `template` with its one `{…}` parameter (if any) filled in."""
    text = text.strip().rstrip(".")
    head, brace, rest = template.partition("{")
    if not brace:
        return text == template
    tail = rest.partition("}")[2]
    middle = text[len(head):len(text) - len(tail)] if len(text) >= len(head) + len(tail) else ""
    return text.startswith(head) and text.endswith(tail) and bool(middle.strip()) and "\n" not in middle
