"""The app served in-process on a free local port and driven by headless Debian Chromium:
shared by the browser tests and `bench/app_timing.py`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_installed() -> bool:
    return Path(CHROMIUM).is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_app() -> Iterator[str]:
    """The whole app, queued as `app.py` launches it, on a free local port; yields its URL."""
    from ui.app import build_app
    from ui.limits import max_upload_bytes

    port = free_port()
    app = build_app().queue(default_concurrency_limit=1)
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               max_file_size=max_upload_bytes())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """A playwright browser on Debian's chromium (scripts/setup-browser.sh installs it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
