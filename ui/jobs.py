"""Long work (training, dataset generation, evaluation) in a background thread, one at a time per
job, with progress, a stop flag and a snapshot the GUI polls with a gr.Timer.

No Gradio here: a job only runs a function and records what it reports, so the callbacks that
start, stop and poll it stay small and testable.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.errors import WorkbenchError
from ui.heavy_work import SLOTS

log = logging.getLogger(__name__)

IDLE, RUNNING, FINISHED, STOPPED, FAILED = "idle", "running", "finished", "stopped", "failed"


@dataclass
class JobSnapshot:
    job_id: int
    state: str
    description: str
    done: int
    total: int
    message: str
    data: dict[str, Any]
    result: Any
    error: str | None
    seconds: float

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


@dataclass
class _Status:
    job_id: int = 0
    state: str = IDLE
    description: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    started: float = 0.0
    finished: float | None = None


class JobContext:
    """What the work function gets: report progress, publish data, and check for a stop request."""

    def __init__(self, job: BackgroundJob) -> None:
        self._job = job

    def report(self, done: int, total: int, message: str = "") -> None:
        with self._job._lock:
            status = self._job._status
            status.done, status.total = int(done), int(total)
            if message:
                status.message = message

    def publish(self, **data: Any) -> None:
        """Set entries of the snapshot's `data` (e.g. the loss curve so far)."""
        with self._job._lock:
            self._job._status.data.update(data)

    def append(self, key: str, item: Any) -> None:
        with self._job._lock:
            self._job._status.data.setdefault(key, []).append(item)

    def should_stop(self) -> bool:
        return self._job._stop.is_set()


class BackgroundJob:
    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._status = _Status()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._status.state == RUNNING

    def start(self, description: str, work: Callable[[JobContext], Any], **data: Any) -> int:
        """Run `work(context)` in a thread; refused while a job is running. Returns the job id."""
        with self._lock:
            if self._status.state == RUNNING:
                raise WorkbenchError(
                    f"{self.name.capitalize()} is busy with '{self._status.description}'. "
                    "Wait for it to finish or stop it first."
                )
            self._stop.clear()
            self._status = _Status(job_id=self._status.job_id + 1, state=RUNNING, description=description,
                                   message="starting…", data=dict(data), started=time.monotonic())
            job_id = self._status.job_id
            self._thread = threading.Thread(target=self._run, args=(work,), name=f"{self.name}-{job_id}",
                                            daemon=True)
            self._thread.start()
        return job_id

    def _run(self, work: Callable[[JobContext], Any]) -> None:
        result, error = None, None
        context = JobContext(self)

        def waiting(text: str) -> None:
            if context.should_stop():
                raise WorkbenchError("Stopped before it started.")
            context.report(0, 0, text)

        try:
            with SLOTS.hold(waiting):
                result = work(context)
        except WorkbenchError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: keep the GUI alive, log the traceback, show one line
            log.exception("%s job failed", self.name)
            error = f"Unexpected error ({type(exc).__name__}: {exc}). The details are in the server log."
        with self._lock:
            status = self._status
            status.result, status.error, status.finished = result, error, time.monotonic()
            if error is not None:
                status.state, status.message = (STOPPED if self._stop.is_set() else FAILED), error
            else:
                status.state = STOPPED if self._stop.is_set() else FINISHED
                status.message = "stopped" if status.state == STOPPED else "done"

    def stop(self) -> bool:
        """Ask the running job to stop at its next check; False when nothing is running."""
        if not self.running:
            return False
        self._stop.set()
        return True

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            status = self._status
            end = status.finished if status.finished is not None else time.monotonic()
            return JobSnapshot(
                job_id=status.job_id, state=status.state, description=status.description,
                done=status.done, total=status.total, message=status.message,
                data=copy.deepcopy(status.data), result=status.result, error=status.error,
                seconds=(end - status.started) if status.started else 0.0,
            )

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the current job ends (for scripts and tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()


class SessionJobs:
    """One BackgroundJob per browser session, so a session sees, polls and stops only the work it
    started; `end` is for when the session closes (its job is asked to stop and forgotten)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._jobs: dict[str, BackgroundJob] = {}

    def of(self, session: str) -> BackgroundJob:
        with self._lock:
            if session not in self._jobs:
                self._jobs[session] = BackgroundJob(self.name)
            return self._jobs[session]

    def end(self, session: str) -> None:
        with self._lock:
            job = self._jobs.pop(session, None)
        if job is not None:
            job.stop()

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)
