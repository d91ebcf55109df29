"""The files Gradio serves: its upload folder (which the workbench may read), and copies of run
files for download, each written once under a name of its own."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gradio.utils import get_upload_folder


def upload_folder() -> Path:
    """Where Gradio keeps uploads and the files it serves (GRADIO_TEMP_DIR or <tmp>/gradio)."""
    return Path(get_upload_folder()).resolve()


def downloadable(path: Path) -> str:
    """A copy of `path` in a new folder of the upload folder, so Gradio serves it from there
    whatever the runs folder is (and cleans it with the rest of its cache)."""
    folder = upload_folder() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    copy = Path(tempfile.mkdtemp(dir=folder)) / path.name
    shutil.copyfile(path, copy)
    return str(copy)
