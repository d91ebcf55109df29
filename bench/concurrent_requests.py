"""Concurrent requests against the served app through gradio_client: how many arrive whole.

    python bench/concurrent_requests.py --out runs/bench/concurrent_requests

The app is served in-process as `app.py` serves it (`ui.headless.served_app`). Two rounds of
`--requests` (default 50) simultaneous previews (`/choose`, one upload and one output image each):
all for the same image, then for three different ones in turn; a request is ok when the image it
gets back has the pixels of the one sent. A third round starts `--analyses` (default 6) classic
analyses at once, each from its own client (its own session), and samples how many heavy jobs the
server runs at the same time (`ui.heavy_work.SLOTS`), which must never exceed the limit.
Failures are counted by kind (a timeout, a broken or truncated response, a wrong image).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from common import header_markdown, run_header, write_outputs
from engines.settings import get_settings
from ui.headless import served_app

EXAMPLES = get_settings().assets_dir / "examples"
IMAGES = [EXAMPLES / name for name in ("spliced.jpg", "copy_move.jpg", "authentic.jpg")]
CLIENT_TIMEOUT_SECONDS = 600


def patient_url_ok(url: str) -> bool:
    """Gradio's launch check that the local server answers, with two minutes instead of fifteen
    seconds: on a loaded machine the in-process server answers late, and launch gives up."""
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.head(url, timeout=10).status_code < 400:
                return True
        except httpx.HTTPError:
            time.sleep(1)
    return False


def client_for(url: str, downloads: Path) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=str(downloads), httpx_kwargs={"timeout": CLIENT_TIMEOUT_SECONDS})


def outcome(call) -> str:
    try:
        return "ok" if call() else "wrong image"
    except Exception as error:  # counted by kind, which is the point of this script
        return type(error).__name__


def preview_round(client: Any, images: list[Path]) -> Counter:
    from gradio_client import handle_file

    def preview(image: Path) -> bool:
        path = client.predict(handle_file(str(image)), api_name="/choose")[0]
        return np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(image).convert("RGB")))

    with ThreadPoolExecutor(max_workers=len(images)) as pool:
        return Counter(pool.map(lambda image: outcome(lambda: preview(image)), images))


def analysis_round(url: str, downloads: Path, n: int) -> tuple[Counter, int, float]:
    """(outcomes, most heavy jobs at once on the server, seconds)."""
    from gradio_client import handle_file

    from ui.heavy_work import SLOTS

    most, sampling = [0], threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            most[0] = max(most[0], SLOTS.busy)
            time.sleep(0.02)

    def analyse(_: int) -> bool:
        client = client_for(url, downloads)
        client.predict(handle_file(str(IMAGES[0])), api_name="/choose")
        job = client.submit(api_name="/analyse_stream")
        job.result()
        return job.status().success

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        outcomes = Counter(pool.map(lambda i: outcome(lambda: analyse(i)), range(n)))
    sampling.set()
    return outcomes, most[0], time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--analyses", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/concurrent_requests"))
    args = parser.parse_args()
    from ui.heavy_work import SLOTS

    import gradio.networking

    gradio.networking.url_ok = patient_url_ok
    rounds: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="concurrent-") as folder, served_app() as url:
        client = client_for(url, Path(folder))
        same = [IMAGES[0]] * args.requests
        mixed = [IMAGES[i % len(IMAGES)] for i in range(args.requests)]
        for name, images in (("same image", same), ("different images", mixed)):
            started = time.monotonic()
            rounds[name] = {"outcomes": dict(preview_round(client, images)), "seconds": time.monotonic() - started}
            print(name, rounds[name], file=sys.stderr, flush=True)
        outcomes, most, seconds = analysis_round(url, Path(folder), args.analyses)
        rounds["classic analyses, one session each"] = {"outcomes": dict(outcomes), "seconds": seconds,
                                                         "most_at_once": most, "limit": SLOTS.limit}
    lines = ["| round | requests | ok | failed (by kind) | seconds |", "|---|---|---|---|---|"]
    for name, result in rounds.items():
        counts = result["outcomes"]
        failed = ", ".join(f"{kind}: {n}" for kind, n in counts.items() if kind != "ok") or "0"
        extra = (f" (at most {result['most_at_once']} running at once; limit {result['limit']})"
                 if "most_at_once" in result else "")
        lines.append(f"| {name}{extra} | {sum(counts.values())} | {counts.get('ok', 0)} | {failed} | "
                     f"{result['seconds']:.0f} |")
    header = run_header()
    write_outputs(args.out.resolve(), "concurrent_requests", {**header, "rounds": rounds},
                  f"{header_markdown(header)}\n\n" + "\n".join(lines))
    print("\n".join(lines))
    everything_ok = all(set(r["outcomes"]) == {"ok"} for r in rounds.values())
    within_limit = rounds["classic analyses, one session each"]["most_at_once"] <= SLOTS.limit
    return 0 if everything_ok and within_limit else 1


if __name__ == "__main__":
    sys.exit(main())
