"""Starts the real app and drives it in headless Debian Chromium through playwright."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    from ui.app import build_app

    port = _free_port()
    app = build_app().queue()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian chromium is not installed (scripts/setup-browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_classic_inspect_shows_overlay_and_score(app_url, browser, spliced_image, tmp_path):
    rgb, _ = spliced_image
    image_path = tmp_path / "spliced.png"
    Image.fromarray(rgb).save(image_path)

    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.locator("#classic-upload input[type=file]").set_input_files(str(image_path))
    page.locator("#classic-preview img").wait_for(timeout=30_000)
    page.locator("#classic-analyse").click()
    score = page.locator("#classic-score")
    score.get_by_text("Manipulation score").wait_for(timeout=60_000)
    overlay = page.locator("#classic-overlay img")
    overlay.wait_for(timeout=30_000)
    assert "Manipulation score: " in score.inner_text()
    width = overlay.evaluate("img => img.naturalWidth")
    height = overlay.evaluate("img => img.naturalHeight")
    assert (width, height) == (rgb.shape[1], rgb.shape[0])
    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "inspect-classic.png"), full_page=True)
    page.close()
