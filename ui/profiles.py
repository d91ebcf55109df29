"""The profile selector: profiles whose weights are not on this machine are marked, and choosing
one disables the analyse button with one plain sentence and the full command in a details box."""

from __future__ import annotations

import html

import gradio as gr

from engines.catalog import engine_class
from engines.store.availability import profile_availability
from ui.weights import DEFAULT_WEIGHTS

MISSING_SUFFIX = " — weights not on this machine"


def profile_choices(engine: str) -> list[tuple[str, str]]:
    return [(profile if profile_availability(engine, profile).available else profile + MISSING_SUFFIX, profile)
            for profile in engine_class(engine).profiles]


def availability_html(engine: str, profile: str) -> str:
    """Empty when the profile can run; else the sentence and a closed box with the instructions."""
    availability = profile_availability(engine, profile)
    if availability.available:
        return ""
    return (f"<div class='profile-missing'><p>{html.escape(availability.sentence)}</p><details>"
            f"<summary>How to get the weights</summary><pre style='white-space:pre-wrap'>"
            f"{html.escape(availability.how_to_get)}</pre></details></div>")


def can_run(engine: str, profile: str, weights: str | None) -> bool:
    """A profile runs with its own weights when they are here, or with a trained run's weights."""
    return (weights not in (None, DEFAULT_WEIGHTS)) or profile_availability(engine, profile).available


def profile_state(engine: str, profile: str, weights: str | None) -> tuple[str, dict]:
    """Outputs: the availability note and the analyse button's interactivity."""
    runnable = can_run(engine, profile, weights)
    return ("" if runnable else availability_html(engine, profile)), gr.update(interactive=runnable)
