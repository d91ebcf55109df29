"""`--set KEY=VALUE` for engine configurations: change one field of a profile's frozen dataclass
config, nested fields by dotted path (`perturbation.streams=blur,jpeg`), before training.

Values are parsed by the type of the field's current value: numbers, booleans
(true/false/1/0/yes/no), strings, and tuples (comma-separated, each item parsed like the first
item of the current tuple); `none` unsets a field that may be None, and an unset one is parsed
by its annotation (`int | None`: an integer). Nothing else is accepted, so a typo cannot
silently change nothing.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import fields, is_dataclass, replace
from typing import Any

from engines.errors import WorkbenchError
from engines.registry import did_you_mean

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_like(text: str, current: Any, key: str) -> Any:
    """`text` as a value of the same kind as `current`."""
    text = text.strip()
    try:
        if isinstance(current, bool):
            return _BOOLEANS[text.lower()]
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, str):
            return text
        if isinstance(current, tuple):
            item = current[0] if current else ""
            return tuple(parse_like(part, item, key) for part in text.split(",") if part.strip())
    except (KeyError, ValueError):
        raise WorkbenchError(f"{key}={text!r}: expected a value like {current!r}.") from None
    raise WorkbenchError(f"{key} cannot be set from the command line (it holds {type(current).__name__}).")


def _set(config: Any, path: list[str], text: str, key: str) -> Any:
    names = [item.name for item in fields(config)]
    if path[0] not in names:
        raise WorkbenchError(f"{type(config).__name__} has no field {path[0]!r} (in {key!r}).{did_you_mean(path[0], names)}")
    current = getattr(config, path[0])
    if len(path) > 1:
        if not is_dataclass(current):
            raise WorkbenchError(f"{key}: {path[0]!r} has no sub-fields.")
        return replace(config, **{path[0]: _set(current, path[1:], text, key)})
    if is_dataclass(current):
        sub = ", ".join(f"{path[0]}.{item.name}" for item in fields(current))
        raise WorkbenchError(f"{key} is a group of settings; set one of: {sub}.")
    if current is None or text.strip().lower() == "none":
        annotation = typing.get_type_hints(type(config))[path[0]]
        return replace(config, **{path[0]: _parse_optional(text, current, annotation, key)})
    return replace(config, **{path[0]: parse_like(text, current, key)})


def _parse_optional(text: str, current: Any, annotation: Any, key: str) -> Any:
    """`none` for a field that may be None; for one that is None now, a value of its one scalar
    type (`int | None`: an integer)."""
    options = typing.get_args(annotation)
    kinds = [kind for kind in options if kind is not type(None)]
    if text.strip().lower() == "none" and len(kinds) < len(options):
        return None
    if current is not None:
        return parse_like(text, current, key)
    if len(kinds) != 1 or kinds[0] not in (bool, int, float, str):
        raise WorkbenchError(f"{key} cannot be set from the command line (it is {annotation}).")
    return parse_like(text, kinds[0](), key)


def apply_overrides(config: Any, assignments: Sequence[str]) -> Any:
    """`config` with every `KEY=VALUE` of `assignments` applied, in order (the dataclasses'
    own checks run on the result, so e.g. an invalid combination is refused with their message)."""
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise WorkbenchError(f"{assignment!r}: write a setting as KEY=VALUE, e.g. perturbation.streams=blur,jpeg.")
        config = _set(config, key.strip().split("."), text, key.strip())
    return config
