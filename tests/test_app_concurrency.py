"""The served app under concurrent requests for the same image: every response arrives whole
(Gradio used to rewrite a shared output file while another response still streamed it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.settings import get_settings
from ui.headless import served_app

REQUESTS = 50
EXAMPLES = get_settings().assets_dir / "examples"
SAME = [EXAMPLES / "spliced.jpg"] * REQUESTS
MIXED = [EXAMPLES / name for name in ("spliced.jpg", "copy_move.jpg", "authentic.jpg")] * (REQUESTS // 3 + 1)


@pytest.mark.slow
def test_fifty_concurrent_requests_for_the_same_and_for_different_images_all_succeed(tmp_path: Path):
    from gradio_client import Client, handle_file

    with served_app() as url:
        client = Client(url, verbose=False, download_files=str(tmp_path))

        def preview(image: Path) -> bool:
            path, _facts = client.predict(handle_file(str(image)), api_name="/choose")
            return np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(image).convert("RGB")))

        for images in (SAME, MIXED[:REQUESTS]):
            with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
                futures = [pool.submit(preview, image) for image in images]
                failures = [repr(f.exception()) for f in futures if f.exception() is not None]
                assert failures == [], f"{len(failures)} of {REQUESTS} failed, first: {failures[0]}"
                assert all(f.result() for f in futures), "a preview differs from its image"
