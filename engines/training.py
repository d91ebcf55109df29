"""One training loop for every engine: epochs, progress, stop requests, atomic checkpoints, resume.

An engine supplies a `Trainer`: the module whose trainable parameters are optimised, the batches
of an epoch, the loss of a batch, a validation pass (run after every epoch, logged) and an export
of the shippable weights. The loop owns the optimiser, the checkpoints and the log.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from engines.checkpoints import has_checkpoint, load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class TrainSettings:
    out_dir: Path
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    resume: bool = True
    """Continue from the checkpoint in out_dir when there is one."""
    max_minutes: float | None = None


@dataclass
class TrainProgress:
    epoch: int
    epochs: int
    step: int
    loss: float
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer(Protocol):
    def trainable_module(self) -> torch.nn.Module: ...

    def batches(self, epoch: int, generator: torch.Generator) -> Iterable[Any]: ...

    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...

    def validate(self) -> dict[str, float]: ...

    def export(self, path: Path) -> None: ...


def fit(
    trainer: Trainer,
    settings: TrainSettings,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Train, checkpointing after every epoch and on a stop request; returns the final state.

    A stopped run keeps what it learned: the weights are saved, and a resume repeats the
    interrupted epoch from them.
    """
    module = trainer.trainable_module()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "history": [],
                             "settings": {k: str(v) for k, v in asdict(settings).items()}}
    if settings.resume and has_checkpoint(settings.out_dir):
        state = load_checkpoint(settings.out_dir, module, optimizer)
    generator = torch.Generator().manual_seed(settings.seed)
    started = time.monotonic()
    module.train()
    stopped = False
    for epoch in range(state["epoch"], settings.epochs):
        generator.manual_seed(settings.seed * 1000 + epoch)
        total, count = 0.0, 0
        for batch in trainer.batches(epoch, generator):
            loss, _ = trainer.loss(batch)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss became {loss.item()} at step {state['step']}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
            state["step"] += 1
            if progress is not None:
                progress(TrainProgress(epoch, settings.epochs, state["step"], loss.item(), state["history"]))
            if should_stop is not None and should_stop():
                stopped = True
                break
        if stopped:
            save_checkpoint(settings.out_dir, module, optimizer, state)
            break
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "loss": total / max(count, 1),
                                 **trainer.validate(), "minutes": (time.monotonic() - started) / 60})
        save_checkpoint(settings.out_dir, module, optimizer, state)
        if settings.max_minutes is not None and time.monotonic() - started > settings.max_minutes * 60:
            break
    module.eval()
    state["stopped"] = stopped
    return state
