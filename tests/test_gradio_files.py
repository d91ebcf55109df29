"""Files handed to Gradio: the upload folder, write-once output images, download copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio import processing_utils
from PIL import Image

from ui import gradio_files


def test_the_upload_folder_follows_gradio_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    assert gradio_files.upload_folder() == (tmp_path / "uploads").resolve()


def test_an_output_image_is_written_once_and_reused_never_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(processing_utils, "save_pil_to_cache", processing_utils.save_pil_to_cache)  # restored after
    gradio_files.write_output_images_once()
    pixels = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    first = Path(processing_utils.save_img_array_to_cache(pixels, str(tmp_path), format="png"))
    inode, content = first.stat().st_ino, first.read_bytes()
    again = Path(processing_utils.save_img_array_to_cache(pixels.copy(), str(tmp_path), format="png"))
    other = Path(processing_utils.save_img_array_to_cache(255 - pixels, str(tmp_path), format="png"))
    assert again == first and first.stat().st_ino == inode and first.read_bytes() == content
    assert other != first and np.array_equal(np.asarray(Image.open(first)), pixels)
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()], "no staging file is left behind"


def test_downloads_are_copies_with_folders_of_their_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    source = tmp_path / "runs" / "metrics.csv"
    source.parent.mkdir()
    source.write_text("engine,f1\n")
    first, second = Path(gradio_files.downloadable(source)), Path(gradio_files.downloadable(source))
    assert first != second and first.name == second.name == "metrics.csv"
    assert first.read_text() == source.read_text() and first.is_relative_to(gradio_files.upload_folder())
