"""Which engines exist, and one shared instance of each per (engine, profile, device, weights).

Engine packages are imported only when asked for, so listing engines or running the classic
engine never pays for importing the deep-learning stacks.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

from engines.engine import Engine
from engines.errors import UnknownNameError
from engines.registry import did_you_mean

ENGINE_MODULES: dict[str, str] = {
    "classic": "engines.classic.engine",
    "clue": "engines.clue.engine",
    "detective_sam": "engines.detective_sam.engine",
    "diffforensics": "engines.diffforensics.engine",
    "ifdl_vlm": "engines.ifdl_vlm.engine",
}

_instances: dict[tuple, Engine] = {}
_instances_lock = threading.Lock()


def engine_names() -> list[str]:
    return sorted(ENGINE_MODULES)


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINE_MODULES:
        raise UnknownNameError(f"Unknown engine {name!r}.{did_you_mean(name, engine_names())}")
    module = importlib.import_module(ENGINE_MODULES[name])
    return module.ENGINE


def get_engine(
    name: str,
    profile: str | None = None,
    device: str | None = None,
    weights: str | Path | None = None,
) -> Engine:
    cls = engine_class(name)
    key = (name, profile or cls.default_profile, str(device or "auto"), str(weights or ""))
    with _instances_lock:
        if key not in _instances:
            _instances[key] = cls(profile=profile, device=device, weights=weights)
        return _instances[key]


def loaded_engines() -> list[Engine]:
    with _instances_lock:
        return list(_instances.values())
