"""The weights selector of an engine: its own default weights, or a run trained here."""

from __future__ import annotations

import gradio as gr

from engines.catalog import engine_class
from engines.training.runs import list_runs
from engines.settings import PROJECT_ROOT

DEFAULT_WEIGHTS = "default"
"""Selector value for the engine's own weights (shipped, or resolved by the model store)."""


def _shown(path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def weights_choices(engine: str, profile: str) -> list[tuple[str, str]]:
    """(label, value) pairs: the default first, then trained runs for this engine and profile."""
    shipped = engine_class(engine).shipped_weights(profile)
    default = "engine default"
    if shipped is not None and shipped.is_file():
        default += f" (shipped: {_shown(shipped)})"
    return [(default, DEFAULT_WEIGHTS)] + [(run.label(), str(run.weights)) for run in list_runs(engine, profile)]


def weights_path(choice: str | None) -> str | None:
    """The path to pass as `get_engine(..., weights=)`, None for the default."""
    return None if not choice or choice == DEFAULT_WEIGHTS else choice


def weights_update(engine: str, profile: str) -> dict:
    return gr.update(choices=weights_choices(engine, profile), value=DEFAULT_WEIGHTS)
