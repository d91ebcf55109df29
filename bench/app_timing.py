"""App timing: how long the real GUI takes, in headless Chromium, from uploading an image in an
engine's Inspect tab to its heatmap overlay appearing.

    python bench/app_timing.py --image assets/examples/spliced.jpg --out runs/bench/app_timing

(`--engines` defaults to every registered engine.) The app is built with `ui.app.build_app` and
served in this process on a free 127.0.0.1 port, driven by playwright with Debian's chromium
(`/usr/bin/chromium`; never `playwright install`). Per engine, on a fresh page each time: set the
file on `#<engine>-upload`, wait for the preview, click `#<engine>-analyse`, wait for
`#<engine>-overlay img`. The first run includes the model load (the app loads models lazily); the
second, on a new page, is warm. An error message in the page instead of an overlay (e.g. missing
weights) is reported as n/a. Writes app_timing.json and app_timing.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from common import header_markdown, run_header, table_text, write_outputs
from engines.catalog import engine_class, engine_names
from engines.settings import get_settings
from ui.offline import apply_offline_environment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser import CHROMIUM, chromium, chromium_installed, served_app  # noqa: E402  (the tests' browser driver)

RUNS = ("first", "warm")


def time_inspect(browser: Any, url: str, engine_name: str, image: Path, timeout_s: float) -> dict[str, Any]:
    """Seconds from the upload to the overlay on a fresh page: upload (until the preview shows),
    analyse (click to overlay) and their total; or the page's error message as n/a."""
    from playwright.sync_api import Error as PlaywrightError

    timeout_ms = timeout_s * 1000
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    try:
        page.goto(url)
        page.get_by_role("tab", name=engine_class(engine_name).title, exact=True).click()
        start = time.perf_counter()
        page.locator(f"#{engine_name}-upload input[type=file]").set_input_files(str(image))
        page.locator(f"#{engine_name}-preview img").wait_for(timeout=timeout_ms)
        uploaded = time.perf_counter()
        page.locator(f"#{engine_name}-analyse").click()
        overlay = page.locator(f"#{engine_name}-overlay img")
        error = page.locator(".toast-body.error")
        overlay.or_(error).first.wait_for(timeout=timeout_ms)
        done = time.perf_counter()
        if not overlay.is_visible():
            message = error.first.locator(".toast-text, .toast-message-text").first.inner_text()
            return {"error": "n/a: " + " ".join(message.split())}
        return {"seconds": done - start, "upload_seconds": uploaded - start, "analyse_seconds": done - uploaded}
    except PlaywrightError as exc:  # its TimeoutError included: report it and go on with the others
        return {"error": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"}
    finally:
        page.close()


def time_engines(engines: list[str], image: Path, timeout_s: float) -> list[dict[str, Any]]:
    rows = []
    with served_app() as url, chromium() as browser:
        for engine_name in engines:
            row: dict[str, Any] = {"engine": engine_name, "profile": engine_class(engine_name).default_profile}
            for run in RUNS:
                row[run] = time_inspect(browser, url, engine_name, image, timeout_s)
                print(f"{engine_name} {run}: {row[run]}", file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def _cell(run: dict[str, Any], key: str) -> str:
    return f"{run[key]:.2f}" if key in run else "–"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| engine | profile | first: upload→overlay s | first: analyse s | warm: upload→overlay s | "
             "warm: analyse s | note |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        first, warm = row["first"], row["warm"]
        note = "; ".join(dict.fromkeys(table_text(r["error"]) for r in (first, warm) if "error" in r))
        lines.append(f"| {row['engine']} | {row['profile']} | {_cell(first, 'seconds')} | "
                     f"{_cell(first, 'analyse_seconds')} | {_cell(warm, 'seconds')} | "
                     f"{_cell(warm, 'analyse_seconds')} | {note} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=engine_names())
    parser.add_argument("--image", type=Path, default=get_settings().assets_dir / "examples" / "spliced.jpg")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each step")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    apply_offline_environment()
    if not chromium_installed():
        raise SystemExit(f"{CHROMIUM} not found: install Debian's chromium (scripts/setup-browser.sh)")
    header = run_header()
    rows = time_engines(args.engines, args.image.resolve(), args.timeout)
    table = markdown_table(rows)
    payload = {**header, "image": str(args.image), "browser": CHROMIUM, "rows": rows}
    write_outputs(args.out, "app_timing", payload,
                  f"{header_markdown(header)}\n\nImage: {args.image}; wall time in headless Chromium from "
                  f"the upload to the overlay (first run includes the model load; warm: a second page).\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
