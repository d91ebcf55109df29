"""Starts the analyst workbench GUI on 127.0.0.1 (offline by default)."""

from __future__ import annotations

import argparse
import logging

from ui.offline import apply_offline_environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    apply_offline_environment()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from ui.app import build_app
    from ui.limits import max_upload_bytes

    build_app().queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, share=False, footer_links=[],
        max_file_size=max_upload_bytes(),
    )


if __name__ == "__main__":
    main()
