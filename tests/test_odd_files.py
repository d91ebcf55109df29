"""Odd files get messages that say what they are: pipes, devices, zlib bombs in PNG metadata;
and Pillow's warnings reach the log with the file they are about."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from engines.errors import ImageInputError
from engines.data.imageio import load_image, load_mask

INFLATED = 2_000_000
"""Bytes a bomb's metadata inflates to (~2 KB compressed), twice the 1 MB Pillow allows."""


def refusal(path: Path) -> str:
    with pytest.raises(ImageInputError) as error:
        load_image(path)
    return str(error.value)


def test_a_named_pipe_is_named_as_such_and_not_opened(tmp_path: Path):
    os.mkfifo(tmp_path / "photo.jpg")
    assert "is a named pipe (FIFO), not an image file" in refusal(tmp_path / "photo.jpg")


def test_a_link_to_dev_zero_names_the_device(tmp_path: Path):
    (tmp_path / "photo.png").symlink_to("/dev/zero")
    assert "(a link to /dev/zero) is a character device" in refusal(tmp_path / "photo.png")


def test_a_socket_is_named_as_such(tmp_path: Path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "photo.png"))
        assert "is a socket" in refusal(tmp_path / "photo.png")


def test_a_missing_file_is_still_not_found(tmp_path: Path):
    assert "not found" in refusal(tmp_path / "nowhere.png")


@pytest.mark.parametrize("chunk", ["zTXt", "iCCP"])
def test_zlib_bombs_in_png_metadata_are_called_zlib_bombs(tmp_path: Path, chunk: str):
    image, path = Image.new("RGB", (32, 32), (90, 90, 90)), tmp_path / f"{chunk}.png"
    if chunk == "zTXt":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "0" * INFLATED, zip=True)
        image.save(path, pnginfo=info)
    else:
        image.save(path, icc_profile=b"\0" * INFLATED)
    assert path.stat().st_size < 100_000
    message = refusal(path)
    assert "zlib bomb" in message and "truncated or corrupt" not in message


def test_pillow_warnings_are_logged_with_the_file_name(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """A palette PNG with per-entry transparency: Pillow warns when it is turned to gray."""
    palette = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) % 4, mode="P")
    palette.putpalette([0, 0, 0, 255, 255, 255, 128, 128, 128, 60, 60, 60])
    palette.save(tmp_path / "mask.png", transparency=bytes([0, 128, 255, 255]))
    with caplog.at_level(logging.WARNING, logger="engines.data.imageio"):
        load_mask(tmp_path / "mask.png")
    assert any(r.getMessage().startswith("mask.png: Palette images with Transparency") for r in caplog.records)
