"""Method configurations as data: one JSON round trip for every engine's frozen dataclass
config (`MethodConfig`), and `--set KEY=VALUE` changes to one field of it, nested fields by dotted
path (`perturbation.streams=blur,jpeg`), before training.

A trained weights file stores its configuration as `to_json()` (`engines.store.trained_weights`);
`from_json` rebuilds it, so an engine analyses with exactly what was trained, `--set` included.

Values are parsed by the type of the field's current value: numbers, booleans
(true/false/1/0/yes/no), strings, and tuples (comma-separated, each item parsed like the first
item of the current tuple); `none` unsets a field that may be None, and an unset one is parsed
by its annotation (`int | None`: an integer). Nothing else is accepted, so a typo cannot
silently change nothing.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Sequence
from dataclasses import asdict, fields, is_dataclass, replace
from typing import Any, TypeVar

from engines.errors import WorkbenchError
from engines.registry import did_you_mean

ConfigT = TypeVar("ConfigT", bound="MethodConfig")


class MethodConfig:
    """Base of every method's top-level config dataclass: JSON out and back in.

    `from_json` turns JSON lists back into the tuples the frozen configs hold (inside plain dicts
    too), rebuilds nested dataclass fields (also `X | None` ones), keeps the defaults of fields a
    file predates, drops the fields a dataclass lists as retired (`RETIRED_FIELDS`, a class
    attribute: fields older weights still store that nothing reads any more), refuses every other
    field this version does not know, and runs the dataclasses' own checks.
    """

    def to_json(self) -> str:
        return json.dumps(asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[ConfigT], text: str) -> ConfigT:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise WorkbenchError(f"A stored {cls.__name__} is not JSON: {err}.") from None
        return config_from_dict(cls, data)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """A (nested) frozen dataclass from `asdict`-style data (see `MethodConfig`)."""
    if not isinstance(data, dict):
        raise WorkbenchError(f"A stored {cls.__name__} must be a JSON object, got {type(data).__name__}.")
    retired = getattr(cls, "RETIRED_FIELDS", ())
    data = {name: value for name, value in data.items() if name not in retired}
    known = {item.name for item in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WorkbenchError(f"A stored {cls.__name__} has fields this version does not know: "
                             f"{', '.join(unknown)}.{did_you_mean(unknown[0], sorted(known))}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        nested = _dataclass_of(hints[name])
        values[name] = config_from_dict(nested, value) if nested and isinstance(value, dict) else _tuples(value)
    try:
        return cls(**values)
    except TypeError as err:
        raise WorkbenchError(f"A stored {cls.__name__} is incomplete: {err}.") from None


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field holds (`X` or `X | None`), else None."""
    if is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [kind for kind in typing.get_args(hint) if is_dataclass(kind)]
        return kinds[0] if len(kinds) == 1 else None
    return None


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


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
