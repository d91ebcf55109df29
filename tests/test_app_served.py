"""The served app driven by gradio_client: concurrent requests for the same image all arrive whole
(Gradio used to rewrite a shared output file while another response still streamed it), and a
pasted decompression bomb gets the same refusal as an uploaded one."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.settings import get_settings
from browser import served_app

REQUESTS = 50
EXAMPLES = get_settings().assets_dir / "examples"
SAME = [EXAMPLES / "spliced.jpg"] * REQUESTS
MIXED = [EXAMPLES / name for name in ("spliced.jpg", "copy_move.jpg", "authentic.jpg")] * (REQUESTS // 3 + 1)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from gradio_client import Client

    with served_app() as url:
        yield Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def test_fifty_concurrent_requests_for_the_same_and_for_different_images_all_succeed(client):
    from gradio_client import handle_file

    def preview(image: Path) -> bool:
        path = client.predict(handle_file(str(image)), api_name="/choose")[0]
        return np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(image).convert("RGB")))

    for images in (SAME, MIXED[:REQUESTS]):
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            futures = [pool.submit(preview, image) for image in images]
            failures = [repr(f.exception()) for f in futures if f.exception() is not None]
            assert failures == [], f"{len(failures)} of {REQUESTS} failed, first: {failures[0]}"
            assert all(f.result() for f in futures), "a preview differs from its image"


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height RGB pixels (the pixel data is not there)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def test_a_pasted_decompression_bomb_is_refused_like_an_uploaded_one(client, tmp_path: Path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(30000, 30000))
    messages = []
    for api_name in ("/choose", "/choose_pasted"):
        with pytest.raises(AppError) as error:
            client.predict(handle_file(str(bomb)), api_name=api_name)
        messages.append(str(error.value))
    assert "'bomb.png' was refused as a possible decompression bomb" in messages[0]
    assert messages[1] == messages[0]


def test_an_evaluation_is_seen_and_stopped_only_by_the_session_that_started_it(client, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    from gradio_client import Client

    from synthetic_data import write_dataset

    monkeypatch.setenv("FORGERY_DATA_ROOTS", str(tmp_path))
    monkeypatch.setenv("FORGERY_RUNS", str(tmp_path / "runs"))
    get_settings.cache_clear()
    data = write_dataset(tmp_path / "many", n_tampered=40, n_authentic=0)
    other = Client(client.src, verbose=False)
    started = client.predict(["classic"], None, str(data), ["none"], "", 0, False, 0, api_name="/start_evaluation")
    assert started[0] == "Evaluation started…"
    assert other.predict(api_name="/stop_evaluation") == "Nothing is running."
    assert client.predict(api_name="/stop_evaluation") == "Stopping…"
    get_settings.cache_clear()
