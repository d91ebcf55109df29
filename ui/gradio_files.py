"""The files Gradio serves: its upload folder (which the workbench may read), output images and
copies of run files for download, each written once and never rewritten while being served."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gradio import processing_utils
from gradio.utils import get_upload_folder
from PIL import Image


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


def _save_pil_once(img: Image.Image, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's `save_pil_to_cache`, writing each file once.

    Gradio names an output image after the hash of its bytes and rewrote that file on every
    result, so two requests for the same image truncated the file one of them was still serving
    (gradio issue 10591). Here a file is written under a temporary name and renamed into place,
    and a file already there (the same bytes) is reused, as Gradio's own `save_file_to_cache` does.
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / f"{name}.{format}").resolve()
    if target.exists():
        os.utime(target)  # Gradio's delete_cache ages files by ctime: a reused file starts anew
        return str(target)
    handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(staging, target)
    return str(target)


def write_output_images_once() -> None:
    """Make every Gradio image output (Image, Gallery, AnnotatedImage) go through `_save_pil_once`."""
    processing_utils.save_pil_to_cache = _save_pil_once
