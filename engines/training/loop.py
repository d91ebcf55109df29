"""One training loop for every engine: epochs, progress, stop requests, atomic checkpoints, resume.

An engine supplies a `Trainer`: the module whose trainable parameters are optimised, the batches
of an epoch, the loss of a batch, a validation pass (run after every epoch, logged) and an export
of the shippable weights. The loop owns the optimiser, the learning-rate schedule (warm-up,
cosine), the best-epoch selection and early stopping, the checkpoints and the log.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from engines.errors import WorkbenchError
from engines.store.trained_weights import load_trainable, save_weights, trainable_state
from engines.training.checkpoints import has_checkpoint, load_checkpoint, save_checkpoint
from engines.training.data_parallel import DataParallel

BEST_WEIGHTS = "best.safetensors"
"""The trainable parameters of the best epoch so far (by `TrainSettings.monitor`)."""


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
    warmup_steps: int = 0
    """Learning rate ramps linearly from 0 over these steps."""
    cosine: bool = False
    """After warm-up, decay the learning rate to 0 along a cosine over all epochs' steps
    (needs the trainer's `steps_per_epoch`)."""
    patience: int | None = None
    """Stop when the monitored validation metric has not improved for this many epochs."""
    monitor: str = "val_f1"
    """Validation metric (higher is better) that picks the best epoch and drives early stopping."""
    checkpoint_minutes: float = 10.0
    """Also checkpoint inside an epoch this often, so a kill loses at most this much."""


@dataclass
class TrainProgress:
    epoch: int
    epochs: int
    step: int
    loss: float
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer(Protocol):
    steps_per_epoch: int
    """How many batches `batches` gives for a whole epoch (the cosine schedule's length)."""

    def trainable_module(self) -> torch.nn.Module: ...

    def batches(self, epoch: int, generator: torch.Generator, skip: int = 0) -> Iterable[Any]:
        """The epoch's batches after its first `skip` (a resumed epoch continues where it stopped)."""
        ...

    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...

    def validate(self) -> dict[str, float]: ...

    def export(self, path: Path) -> None: ...


def learning_rate_factor(step: int, settings: TrainSettings, total_steps: int | None) -> float:
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    if not settings.cosine or not total_steps:
        return 1.0
    progress = min(1.0, (step - settings.warmup_steps) / max(1, total_steps - settings.warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _improved(value: float | None, best: float | None) -> bool:
    return value is not None and math.isfinite(value) and (best is None or value > best)


def fit(
    trainer: Trainer,
    settings: TrainSettings,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    parallel: DataParallel | None = None,
) -> dict[str, Any]:
    """Train, checkpointing after every epoch, every `checkpoint_minutes` and on a stop request;
    returns the final state. The module ends with the weights of the best epoch by
    `settings.monitor` (kept in `best.safetensors`), or the last ones when none was measured.

    A stopped or killed run keeps what it learned: a resume continues from the last checkpoint's
    step inside its epoch, with the same batches it would have seen. Under `accelerate launch` the processes train as one
    (`engines.training.data_parallel`: rank 0 writes, any number of processes resumes).
    """
    parallel = parallel or DataParallel.from_environment()
    module = trainer.trainable_module()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "epoch_step": 0, "minutes": 0.0, "history": [],
                             "best": None, "settings": {k: str(v) for k, v in asdict(settings).items()}}
    if settings.resume and has_checkpoint(settings.out_dir):
        state = {**state, **load_checkpoint(settings.out_dir, module, optimizer)}
    parallel.sync_parameters(module)
    steps_per_epoch = getattr(trainer, "steps_per_epoch", None)
    if settings.cosine and not steps_per_epoch:
        raise WorkbenchError(f"{type(trainer).__name__} does not say how many steps an epoch has, "
                             "so the cosine schedule cannot be laid out; train without --cosine.")
    total_steps = parallel.steps(steps_per_epoch) * settings.epochs if steps_per_epoch else None
    best_path = settings.out_dir / BEST_WEIGHTS
    generator = torch.Generator().manual_seed(settings.seed)
    started, minutes_before = time.monotonic(), float(state["minutes"])
    last_checkpoint = started

    def checkpoint() -> None:
        nonlocal last_checkpoint
        state["minutes"] = minutes_before + (time.monotonic() - started) / 60
        if parallel.is_main:
            save_checkpoint(settings.out_dir, module, optimizer, state)
        last_checkpoint = time.monotonic()

    module.train()
    stopped = False
    for epoch in range(state["epoch"], settings.epochs):
        generator.manual_seed(settings.seed * 1000 + epoch)
        total, count = 0.0, 0
        for batch, consumed in parallel.shard(trainer.batches(epoch, generator, skip=state["epoch_step"])):
            for group in optimizer.param_groups:
                group["lr"] = settings.lr * learning_rate_factor(state["step"], settings, total_steps)
            loss = parallel.step(trainer, batch, optimizer, params, state["step"])
            total += loss
            count += 1
            state["step"] += 1
            state["epoch_step"] += consumed
            if progress is not None:
                progress(TrainProgress(epoch, settings.epochs, state["step"], loss, state["history"]))
            if parallel.agree(should_stop is not None and should_stop()):
                stopped = True
                break
            if time.monotonic() - last_checkpoint > settings.checkpoint_minutes * 60:
                checkpoint()
        if stopped:
            checkpoint()
            break
        state["epoch"], state["epoch_step"] = epoch + 1, 0
        metrics = trainer.validate()
        state["history"].append({"epoch": epoch + 1, "loss": total / max(count, 1), **metrics,
                                 "lr": optimizer.param_groups[0]["lr"],
                                 "minutes": minutes_before + (time.monotonic() - started) / 60})
        value = metrics.get(settings.monitor)
        if _improved(value, state["best"]["value"] if state["best"] else None):
            if parallel.is_main:
                save_weights(trainable_state(module), best_path)
            state["best"] = {"epoch": epoch + 1, "value": value}
        checkpoint()
        if settings.patience is not None and state["best"] is not None \
                and epoch + 1 - state["best"]["epoch"] >= settings.patience:
            state["early_stopped"] = True
            break
        if parallel.agree(settings.max_minutes is not None and time.monotonic() - started > settings.max_minutes * 60):
            break
    parallel.barrier()
    if not stopped and state["best"] is not None and best_path.is_file():
        load_trainable(module, best_path)
    module.eval()
    state["stopped"] = stopped
    return state
