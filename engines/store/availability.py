"""Whether an engine's profile can run on this machine, and if not, how to get its weights — so
that a profile without weights is shown disabled with one plain sentence, not offered as if it
would run.

A profile can run when the weights it loads by default are here: the project's trained file
(`Engine.shipped_weights`) for profiles that have one, otherwise every model-store weight named by
its configuration or by the engine itself (e.g. an imported release). The full instructions are
the engine's own: the message it raises when asked to load without them (it raises before
building anything, so asking is cheap).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engines.catalog import engine_class
from engines.errors import WorkbenchError
from engines.store.model_store import get_store


@dataclass(frozen=True)
class ProfileAvailability:
    engine: str
    profile: str
    available: bool
    sentence: str = ""
    """One plain sentence when the profile cannot run here."""
    how_to_get: str = ""
    """The engine's full instructions (commands) for getting the weights."""


def _named_strings(config: Any) -> set[str]:
    """Every string value inside a (nested) configuration dataclass."""
    if dataclasses.is_dataclass(config):
        return set().union(*(_named_strings(getattr(config, f.name)) for f in dataclasses.fields(config)))
    if isinstance(config, str):
        return {config}
    if isinstance(config, (tuple, list)):
        return set().union(*map(_named_strings, config)) if config else set()
    return set()


def missing_store_weights(engine_name: str, profile: str) -> list[str]:
    """Model-store weights the profile names (or the engine's own name) that are not on this machine."""
    store = get_store()
    wanted = (_named_strings(engine_class(engine_name).profiles[profile]) | {engine_name}) & set(store.names())
    return sorted(name for name in wanted if store.find(name) is None)


def _weights_here(engine_name: str, profile: str) -> bool:
    cls = engine_class(engine_name)
    if not cls.is_trainable():
        return True
    shipped = cls.shipped_weights(profile)
    if shipped is not None:
        return shipped.is_file()
    return not missing_store_weights(engine_name, profile)


def profile_availability(engine_name: str, profile: str) -> ProfileAvailability:
    if _weights_here(engine_name, profile):
        return ProfileAvailability(engine_name, profile, True)
    cls = engine_class(engine_name)
    probe = cls(profile=profile, device="cpu")
    try:
        probe.load()
    except WorkbenchError as error:
        how_to_get = str(error)
    else:
        probe.unload()
        return ProfileAvailability(engine_name, profile, True)
    others = [name for name in missing_store_weights(engine_name, profile) if name not in how_to_get]
    if others:
        how_to_get += (f"\nIt also needs model-store weights that are not here: {', '.join(others)} "
                       "(`python -m engines weights list` says where each comes from).")
    sentence = (f"The {profile} profile of {cls.title} cannot run here: its weights are not on this machine "
                "(how to get them is below).")
    return ProfileAvailability(engine_name, profile, False, sentence, how_to_get)
