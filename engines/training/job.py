"""One training job, from request to exported weights, with progress and stop requests (for the GUI).

The same steps as `python -m engines train`: open the dataset, let the engine build its trainer
(which may first cache features: `preparing` reports that), run `engines.training.loop.fit` (atomic
checkpoints, resume), export `weights.safetensors`. The run folder also gets `run.json`
(`engines.training.runs`) so its weights can be found and selected later.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engines.catalog import engine_class
from engines.engine import MAIN_STAGE
from engines.data.datasets import open_dataset
from engines.training.data_parallel import DataParallel
from engines.errors import WeightsError, WorkbenchError
from engines.forge.stream import ForgeSource
from engines.training.runs import WEIGHTS_FILE, write_run_record
from engines.training.loop import TrainProgress, TrainSettings, fit


class TrainingStopped(WorkbenchError):
    """A stop was requested before training itself started (while preparing)."""


@dataclass(frozen=True)
class TrainRequest:
    engine: str
    data: Path | ForgeSource
    """A dataset folder, or forge samples made on the fly (engines that support it)."""
    out_dir: Path
    profile: str | None = None
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0
    init_from_shipped: bool = False
    init_weights: Path | None = None
    """Start from these weights instead (ignored when init_from_shipped)."""
    resume: bool = True
    max_minutes: float | None = None
    overrides: tuple[str, ...] = ()
    """`KEY=VALUE` changes to the profile's configuration (`engines.method_config`)."""
    warmup_steps: int = 0
    cosine: bool = False
    patience: int | None = None
    stage: str = MAIN_STAGE
    """The main stage, or one of the engine's extra stages (`Engine.stages`: its data folder may be
    a photo folder, its initial weights those of an earlier stage)."""
    samples_per_epoch: int | None = None
    """Extra stages only: samples (or crops) per epoch; None: the stage's default."""

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise WorkbenchError(f"Epochs must be at least 1, got {self.epochs}.")
        if self.batch_size < 1:
            raise WorkbenchError(f"Batch size must be at least 1, got {self.batch_size}.")
        if not self.lr > 0:
            raise WorkbenchError(f"The learning rate must be positive, got {self.lr}.")


@dataclass(frozen=True)
class TrainOutcome:
    weights: Path
    epochs_done: int
    stopped: bool
    history: list[dict[str, float]]


def run_training(
    request: TrainRequest,
    *,
    preparing: Callable[[int, int], None] | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainOutcome:
    cls = engine_class(request.engine)
    profile = request.profile or cls.default_profile
    init = request.init_weights
    if request.init_from_shipped:
        init = cls.shipped_weights(profile)
        if init is None or not init.is_file():
            raise WeightsError(
                f"{cls.title} has no shipped weights for profile {profile!r} yet "
                f"({init or 'none defined'}); untick 'start from shipped weights'."
            )
    on_the_fly = isinstance(request.data, ForgeSource)
    if on_the_fly and not (cls.trains_on_the_fly and request.stage == MAIN_STAGE):
        raise WorkbenchError(f"{cls.title} trains on a dataset folder only; make one with `python -m engines forge`.")
    cls.check_stage(request.stage)
    if request.stage == MAIN_STAGE:
        dataset = request.data if on_the_fly else open_dataset(request.data)
    parallel = DataParallel.from_environment()
    if parallel.is_main:
        write_run_record(request.out_dir, request.engine, profile,
                         json.dumps(request.data.describe()) if on_the_fly else request.data,
                         {k: str(v) if isinstance(v, Path) else v for k, v in asdict(request).items()
                          if k not in ("engine", "data", "out_dir")})

    def prepare(done: int, total: int) -> None:
        if should_stop is not None and should_stop():
            raise TrainingStopped("Training was stopped while preparing; nothing was trained.")
        if preparing is not None:
            preparing(done, total)

    if request.stage == MAIN_STAGE:
        trainer = cls.make_trainer(profile, dataset, init, request.batch_size, request.seed, prepare,
                                   overrides=request.overrides)
    else:
        trainer = cls.make_stage_trainer(request.stage, profile, request.data, init, request.batch_size, request.seed,
                                         request.samples_per_epoch, prepare, overrides=request.overrides)
    settings = TrainSettings(out_dir=request.out_dir, epochs=request.epochs, lr=request.lr,
                             seed=request.seed, resume=request.resume, max_minutes=request.max_minutes,
                             warmup_steps=request.warmup_steps, cosine=request.cosine, patience=request.patience,
                             monitor=getattr(trainer, "monitor", TrainSettings.monitor))
    state: dict[str, Any] = fit(trainer, settings, progress=progress, should_stop=should_stop, parallel=parallel)
    weights = request.out_dir / WEIGHTS_FILE
    if parallel.is_main:
        trainer.export(weights)
    parallel.barrier()
    return TrainOutcome(weights=weights, epochs_done=int(state["epoch"]),
                        stopped=bool(state.get("stopped")), history=list(state["history"]))
