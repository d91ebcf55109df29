"""Atomic, resumable training checkpoints.

A checkpoint folder holds `trainable.safetensors` (only the trained parameters), `optimizer.pt`
(loaded with `weights_only=True`) and `state.json` (step, epoch, loss history, config). Every file
is written to a temporary name and moved into place with `os.replace`, and `state.json` is written
last, so a crash never leaves a half-written checkpoint that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from engines.errors import WeightsError

TRAINABLE = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
STATE = "state.json"


def _atomic_write(path: Path, write) -> None:
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
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


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


def save_checkpoint(folder: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict[str, Any]) -> None:
    save_weights(trainable_state(module), folder / TRAINABLE)
    _atomic_write(folder / OPTIMIZER, lambda tmp: torch.save(optimizer.state_dict(), tmp))
    _atomic_write(folder / STATE, lambda tmp: Path(tmp).write_text(json.dumps(state, indent=2)))


def has_checkpoint(folder: Path) -> bool:
    return (folder / STATE).is_file() and (folder / TRAINABLE).is_file()


def load_checkpoint(folder: Path, module: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    if not has_checkpoint(folder):
        raise WeightsError(f"No complete checkpoint in {folder} (expected {STATE} and {TRAINABLE})")
    load_trainable(module, folder / TRAINABLE)
    if optimizer is not None and (folder / OPTIMIZER).is_file():
        optimizer.load_state_dict(torch.load(folder / OPTIMIZER, weights_only=True, map_location="cpu"))
    return json.loads((folder / STATE).read_text())
