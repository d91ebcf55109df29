"""The report bundle download: PNG overlays, raw maps (.npz), JSON and an HTML page, zipped."""

from __future__ import annotations

from collections.abc import Sequence

from engines.bundle import report_zip
from engines.imageio import LoadedImage
from engines.result import Analysis
from ui.messages import user_errors


def export_report(image: LoadedImage, analyses: Sequence[Analysis]) -> str:
    """Path of a new zip in a temporary folder (Gradio serves it from there)."""
    with user_errors():
        return str(report_zip(image, analyses))
