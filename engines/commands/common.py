"""Arguments several commands share."""

from __future__ import annotations

import argparse

from engines.catalog import engine_names


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", required=True, help=f"one of: {', '.join(engine_names())}")
    parser.add_argument("--profile", default=None, help="compact (default) or full")
    parser.add_argument("--weights", default=None, help="a trained checkpoint to use instead of the shipped one")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
