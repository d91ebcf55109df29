"""The report bundle download: PNG overlays, raw maps (.npz), JSON and an HTML page, zipped."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from engines.reports.bundle import report_zip
from engines.data.imageio import LoadedImage
from engines.result import Analysis
from ui.gradio_files import downloadable
from ui.messages import user_errors


def export_report(image: LoadedImage, analyses: Sequence[Analysis]) -> str:
    """Path of a new zip in Gradio's upload folder (cleaned with its cache); the report files are
    written in a temporary folder that is removed at once."""
    with user_errors(), tempfile.TemporaryDirectory(prefix="forgery-report-") as scratch:
        return downloadable(report_zip(image, analyses, out_dir=Path(scratch)))
