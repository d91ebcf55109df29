"""Training runs on disk: which engine and profile a run folder belongs to, and listing them.

A run folder (under `settings.runs_dir`) holds the checkpoint files of `engines.training.checkpoints`,
the exported `weights.safetensors`, and `run.json`, written when the run starts:
`{"engine", "profile", "dataset", "created", "settings"}`. Runs without `run.json` (e.g. made
by hand) are not listed, because nothing says which engine their weights fit.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.catalog import engine_class, engine_names
from engines.engine import MAIN_STAGE
from engines.training.checkpoints import read_state
from engines.settings import get_settings

RUN_RECORD = "run.json"
WEIGHTS_FILE = "weights.safetensors"


@dataclass(frozen=True)
class RunRecord:
    folder: Path
    engine: str
    profile: str
    dataset: str
    created: str
    settings: dict[str, Any] = field(default_factory=dict)
    epochs_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE

    @property
    def has_weights(self) -> bool:
        return self.weights.is_file()

    @property
    def analysable(self) -> bool:
        """Whether the engine analyses with this run's weights: not those of a stage that comes
        before the main one (DiffForensics' pretraining only initialises the main stage)."""
        stage = self.settings.get("stage", MAIN_STAGE)
        if self.engine not in engine_names():
            return False
        return not any(s.name == stage and s.before_main for s in engine_class(self.engine).stages)

    def label(self) -> str:
        """Short description for a selector, e.g. `run my-run (3 epochs, forge_train)`."""
        epochs = f"{self.epochs_done} epoch{'s' if self.epochs_done != 1 else ''}"
        return f"run {self.folder.name} ({epochs}, {Path(self.dataset).name})"


def is_trainable(name: str) -> bool:
    return engine_class(name).is_trainable()


def trainable_engine_names() -> list[str]:
    return [name for name in engine_names() if is_trainable(name)]


def write_run_record(folder: Path, engine: str, profile: str, dataset: Path | str,
                     settings: dict[str, Any]) -> Path:
    """Write `run.json`; a resumed run keeps the time it was first created."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_RECORD
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    try:
        created = str(json.loads(path.read_text()).get("created") or created)
    except (OSError, ValueError, AttributeError):
        pass
    record = {
        "engine": engine,
        "profile": profile,
        "dataset": str(dataset),
        "created": created,
        "settings": settings,
    }
    path.write_text(json.dumps(record, indent=2, default=str))
    return path


def read_run(folder: Path) -> RunRecord | None:
    """The run in `folder`, or None when it has no readable run.json."""
    try:
        record = json.loads((folder / RUN_RECORD).read_text())
        engine, profile = str(record["engine"]), str(record["profile"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    history: list[dict[str, Any]] = []
    try:
        history = list(read_state(folder).get("history", []))
    except (OSError, ValueError, AttributeError):
        pass
    return RunRecord(folder=folder, engine=engine, profile=profile,
                     dataset=str(record.get("dataset", "")), created=str(record.get("created", "")),
                     settings=dict(record.get("settings") or {}), epochs_done=len(history),
                     history=history)


def list_runs(engine: str | None = None, profile: str | None = None, *,
              runs_dir: Path | None = None, with_weights: bool = True) -> list[RunRecord]:
    """Runs under `runs_dir` (default settings.runs_dir) for an engine/profile, newest first;
    `with_weights`: only those whose exported weights the engine analyses with."""
    root = runs_dir or get_settings().runs_dir
    if not root.is_dir():
        return []
    runs = [run for folder in root.iterdir() if folder.is_dir() and (run := read_run(folder))]
    chosen = [
        run for run in runs
        if (engine is None or run.engine == engine) and (profile is None or run.profile == profile)
        and (not with_weights or (run.has_weights and run.analysable))
    ]
    return sorted(chosen, key=lambda run: (run.created, run.folder.name), reverse=True)
