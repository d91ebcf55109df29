"""`python -m engines COMMAND …`: the command line the GUI's panels share their functions with.

Each command lives in its own module under `engines/commands/` with `HELP`, `add_arguments(parser)`
and `run(args) -> int`; modules import their heavy dependencies inside `run` so `--help` is quick.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engines.errors import WorkbenchError

COMMANDS: dict[str, str] = {
    "analyze": "engines.commands.analyze",
    "batch": "engines.commands.batch",
    "calibrate": "engines.commands.calibrate",
    "evaluate": "engines.commands.evaluate",
    "forge": "engines.commands.forge",
    "import-detective-sam": "engines.commands.import_detective_sam",
    "train": "engines.commands.train",
    "weights": "engines.commands.weights",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engines", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_path in COMMANDS.items():
        module = importlib.import_module(module_path)
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
