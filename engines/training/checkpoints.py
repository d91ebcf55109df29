"""Atomic, resumable training checkpoints.

A checkpoint is a set of three files — `trainable.safetensors` (only the trained parameters),
`optimizer.pt` (loaded with `weights_only=True`) and `state.json` (step, epoch, loss history,
config; strict JSON) — in a `checkpoint-<step>` folder of the run, named by the run's
`checkpoint.json` pointer. A set is written in full under a staging name before the pointer is
switched to it with `os.replace`, so a crash never pairs new weights with an old state.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from engines.errors import WeightsError
from engines.store.trained_weights import atomic_write, load_trainable, save_weights, trainable_state

TRAINABLE = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
STATE = "state.json"
POINTER = "checkpoint.json"


def json_ready(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats become null (nested dicts and lists too)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def save_checkpoint(folder: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict[str, Any]) -> None:
    """Write weights, optimiser and state as one set: into a new sub-folder, then switch the
    `checkpoint.json` pointer to it in one `os.replace`. A kill at any moment leaves the previous
    complete set in use; older sets are removed only after the switch."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"checkpoint-{state.get('step', 0):09d}-{os.getpid()}"
    target = folder / name
    shutil.rmtree(target, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".checkpoint-staging-"))
    save_weights(trainable_state(module), staging / TRAINABLE)
    torch.save(optimizer.state_dict(), staging / OPTIMIZER)
    (staging / STATE).write_text(json.dumps(json_ready(state), indent=2, allow_nan=False))
    os.replace(staging, target)
    atomic_write(folder / POINTER, lambda tmp: Path(tmp).write_text(json.dumps({"folder": name})))
    for old in folder.glob("checkpoint-*"):
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(".checkpoint-staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


def checkpoint_folder(folder: Path) -> Path | None:
    """The folder of the current complete checkpoint set under a run folder, or None. Runs
    written before checkpoint sets existed keep their three files in the run folder itself."""
    pointer = folder / POINTER
    if pointer.is_file():
        current = folder / json.loads(pointer.read_text())["folder"]
        if (current / STATE).is_file() and (current / TRAINABLE).is_file():
            return current
    if (folder / STATE).is_file() and (folder / TRAINABLE).is_file():
        return folder
    return None


def has_checkpoint(folder: Path) -> bool:
    return checkpoint_folder(folder) is not None


def read_state(folder: Path) -> dict[str, Any]:
    """The training state (step, epoch, history, …) of a run folder's checkpoint; {} without one."""
    current = checkpoint_folder(folder) or folder
    return json.loads((current / STATE).read_text()) if (current / STATE).is_file() else {}


def load_checkpoint(folder: Path, module: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    current = checkpoint_folder(folder)
    if current is None:
        raise WeightsError(f"No complete checkpoint in {folder} (expected {POINTER} or {STATE} and {TRAINABLE})")
    load_trainable(module, current / TRAINABLE)
    if optimizer is not None and (current / OPTIMIZER).is_file():
        optimizer.load_state_dict(torch.load(current / OPTIMIZER, weights_only=True, map_location="cpu"))
    return json.loads((current / STATE).read_text())
