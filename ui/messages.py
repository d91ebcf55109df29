"""Turning WorkbenchError into messages the user reads in the page (never a traceback)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import gradio as gr

from engines.errors import WorkbenchError


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Re-raise a WorkbenchError as gr.Error, which Gradio shows as a message box."""
    try:
        yield
    except WorkbenchError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


def warn(message: str) -> None:
    """A non-blocking warning toast (the callback goes on)."""
    gr.Warning(message)


def info(message: str) -> None:
    gr.Info(message)
