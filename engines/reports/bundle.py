"""A zip of report bundles (`engines.reports.report.write_report`) for one image and one or more analyses."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from engines.errors import WorkbenchError
from engines.data.imageio import LoadedImage
from engines.reports.report import write_report
from engines.result import Analysis


def safe_stem(name: str) -> str:
    """A file-name stem from an upload name: letters, digits, '-', '_' only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")
    return stem or "image"


def report_zip(image: LoadedImage, analyses: Sequence[Analysis], out_dir: Path | None = None,
               stem: str | None = None) -> Path:
    """Write every analysis' report into `<out_dir>/<stem>/` and zip it to `<out_dir>/<stem>_report.zip`.

    out_dir defaults to a new temporary folder; stem to the image's file name.
    """
    if not analyses:
        raise WorkbenchError("There is nothing to export yet: analyse the image first.")
    stem = safe_stem(stem or image.source)
    out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="forgery-report-"))
    folder = out_dir / stem
    for analysis in analyses:
        write_report(image, analysis, folder, stem)
    return Path(shutil.make_archive(str(out_dir / f"{stem}_report"), "zip", root_dir=folder))
