"""What each engine × profile has: weights on disk, where it runs, whether it is loaded, its size.

For the Models panel. Reading this status never loads a model; `load` and `unload` do, on request.
"""

from __future__ import annotations

from typing import Any

import torch

from engines.catalog import engine_class, engine_names, get_engine, loaded_engines
from engines.device import best_device
from engines.engine import Engine
from engines.training.runs import is_trainable, list_runs
from engines.store.model_store import get_store


def parameter_count(engine: Engine) -> int | None:
    """Parameters of a loaded engine's model (None when not loaded or not a torch module)."""
    if not engine.loaded:
        return None
    model = engine.load(explanations=False)  # as loaded: counting must not load more
    if not isinstance(model, torch.nn.Module):
        return None
    return sum(p.numel() for p in model.parameters())


def _default_instance(name: str, profile: str) -> Engine | None:
    """The shared instance with the engine's own weights, if one was created in this process."""
    for engine in loaded_engines():
        if engine.name == name and engine.profile == profile and engine.weights_path is None:
            return engine
    return None


def _weights_source(name: str, profile: str) -> tuple[str, bool | None]:
    """(description, present) of the weights the profile uses by default; present is None when
    the engine needs none or resolves them through the model store when it loads."""
    if not is_trainable(name):
        return "none needed (training-free)", None
    shipped = engine_class(name).shipped_weights(profile)
    if shipped is None:
        return "model store (resolved when loaded)", None
    if shipped.is_file():
        return str(shipped), True
    return f"{shipped} is absent (weights may come from the model store instead)", False


def engine_rows() -> list[dict[str, Any]]:
    rows = []
    for name in engine_names():
        cls = engine_class(name)
        for profile in cls.profiles:
            instance = _default_instance(name, profile)
            source, present = _weights_source(name, profile)
            rows.append({
                "engine": name,
                "profile": profile,
                "trainable": is_trainable(name),
                "weights": source,
                "weights_present": present,
                "trained_runs": len(list_runs(name, profile)),
                "device": str(instance.device if instance is not None else best_device()),
                "loaded": bool(instance is not None and instance.loaded),
                "parameters": parameter_count(instance) if instance is not None else None,
                "loaded_weights_sha256": ", ".join(
                    f"{k}: {v[:12]}" for k, v in (instance.describe()["weights"] if instance else {}).items()
                ),
            })
    return rows


def load(name: str, profile: str) -> Engine:
    engine = get_engine(name, profile)
    engine.load()
    return engine


def unload(name: str, profile: str) -> int:
    """Unload every instance of this engine and profile (any weights); returns how many were loaded."""
    count = 0
    for engine in loaded_engines():
        if engine.name == name and engine.profile == profile and engine.loaded:
            engine.unload()
            count += 1
    return count


def store_rows() -> list[dict[str, Any]]:
    """The model store's status (`ModelStore.status`), one row per named weight."""
    return get_store().status()
