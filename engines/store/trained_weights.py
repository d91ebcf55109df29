"""The one writer and reader of trained weights: tensors, the method configuration they were
trained with and the calibration fitted at export, in one safetensors file.

A file written by `write_trained_weights(path, engine, tensors, config, calibration)` carries
`<engine>_config` (the config's `to_json()`, `engines.method_config.MethodConfig`) and
`calibration` (`engines.training.calibration.Calibration`) in its safetensors metadata; an engine
rebuilds from `read_trained_config` (every `--set` change included) and reads
`read_calibration`. Writes are atomic.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engines.errors import WeightsError, WorkbenchError

if TYPE_CHECKING:
    from engines.training.calibration import Calibration

CALIBRATION_KEY = "calibration"
"""Key of the JSON calibration in a weights file's metadata."""
ConfigT = TypeVar("ConfigT")


def config_key(engine: str) -> str:
    """Metadata key of the configuration an engine's weights were trained with."""
    return f"{engine}_config"


def write_trained_weights(path: Path, engine: str, tensors: dict[str, torch.Tensor], config: Any,
                          calibration: Calibration | None = None, extra: dict[str, str] | None = None,
                          half: bool = True) -> None:
    """`tensors` (fp16 unless `half` is False) with the configuration, the calibration (when one
    was fitted) and `extra` metadata."""
    metadata = {config_key(engine): config.to_json(), **(extra or {})}
    if calibration is not None:
        metadata[CALIBRATION_KEY] = calibration.to_json()
    save_weights({k: v.contiguous() for k, v in tensors.items()}, path, metadata=metadata, half=half)


def read_metadata(path: Path | str) -> dict[str, str]:
    """A weights file's safetensors metadata ({} when it has none)."""
    if not Path(path).is_file():
        raise WeightsError(f"No weights file at {path}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except SafetensorError as err:
        raise WeightsError(f"{path} is not a safetensors weights file ({err}).") from err


def read_trained_config(path: Path | str, engine: str, config_type: type[ConfigT]) -> ConfigT | None:
    """The configuration stored with an engine's trained weights; None for files that carry none
    (written before configurations were stored, or not safetensors, e.g. a released `.pth`)."""
    if Path(path).suffix.lower() != ".safetensors":
        return None
    text = read_metadata(path).get(config_key(engine))
    if text is None:
        return None
    try:
        return config_type.from_json(text)  # type: ignore[attr-defined]
    except WorkbenchError as err:
        raise WeightsError(f"{path}: {err}") from None


def read_calibration(path: Path | str) -> Calibration | None:
    """The calibration stored with trained weights; None when none was fitted."""
    from engines.training.calibration import Calibration

    text = read_metadata(path).get(CALIBRATION_KEY)
    return Calibration.from_json(text) if text else None


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """`write(tmp)` fills a temporary file beside `path`, which then replaces `path` in one
    `os.replace`: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trainable_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that require grad: the part of a model a run trains and ships."""
    names = {name for name, p in module.named_parameters() if p.requires_grad}
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items() if k in names}


def save_weights(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None,
                 half: bool = False) -> None:
    tensors = {k: (v.half() if half and v.is_floating_point() else v) for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsError(f"No weights file at {path}")
    return {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}


def _sample(keys: set[str], shown: int = 8) -> str:
    listed = sorted(keys)[:shown]
    more = f" and {len(keys) - len(listed)} more" if len(keys) > len(listed) else ""
    return ", ".join(listed) + more


def state_dict_problems(given: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                        required: set[str]) -> list[str]:
    """What keeps `given` from loading into a model whose state is `expected`: missing required
    keys, unexpected keys and keys of the wrong shape, each with a sample of names."""
    missing, unexpected = required - set(given), set(given) - set(expected)
    mis_shaped = {f"{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}"
                  for k in set(given) & set(expected) if given[k].shape != expected[k].shape}
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({_sample(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({_sample(unexpected)})")
    if mis_shaped:
        problems.append(f"{len(mis_shaped)} keys of the wrong shape ({_sample(mis_shaped)})")
    return problems


def load_trainable(module: torch.nn.Module, path: Path) -> None:
    """Load trained parameters into a module whose frozen parts are already in place."""
    tensors = load_weights(path)
    trainable = trainable_state(module)
    problems = state_dict_problems(tensors, trainable, set(trainable))
    if problems:
        raise WeightsError(f"{path} does not fit this model: " + "; ".join(problems)
                           + " (was it trained for another engine or profile?)")
    module.load_state_dict(tensors, strict=False)
