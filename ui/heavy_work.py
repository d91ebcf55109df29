"""One limit on the heavy work of the whole app, whoever starts it (`FORGERY_HEAVY_JOBS`, default 2):
analyses (Inspect, Compare, Robustness), model loads, evaluations, training and dataset generation.

Two layers share the number. Gradio's queue runs at most that many of the streamed heavy events at
once (one `concurrency_id`, so all of them share it, not one queue each), and shows the others their
place in the queue. The process-wide `SLOTS` is held by the work itself for as long as it runs,
which also covers what the queue does not see: work whose page pressed Stop (a model forward pass
cannot be interrupted and ends in the background) and the Train and Evaluate jobs, whose start
click returns at once while the job runs in a thread. When a slot is given back, so is the memory
the work freed (`return_freed_memory`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Callable, Iterator

HEAVY_WORK = "heavy-work"
"""The `concurrency_id` of every heavy event."""
WAIT_TICK_SECONDS = 0.5


def heavy_work_limit() -> int:
    return max(1, int(os.environ.get("FORGERY_HEAVY_JOBS", "2")))


class WorkSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = threading.Semaphore(limit)
        self._lock = threading.Lock()
        self._busy = 0

    @property
    def busy(self) -> int:
        with self._lock:
            return self._busy

    @contextlib.contextmanager
    def hold(self, waiting: Callable[[str], None]) -> Iterator[None]:
        """Run the body in a free slot; while none is free, `waiting(text)` is called every
        WAIT_TICK_SECONDS (it may raise to give up waiting, e.g. when the user pressed Stop)."""
        while not self._free.acquire(timeout=WAIT_TICK_SECONDS):
            waiting(f"waiting for a free slot ({self.limit} heavy jobs are running on this server)")
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
            self._free.release()
            return_freed_memory()


def return_freed_memory() -> None:
    """Give the memory Python and NumPy freed back to the system. glibc keeps freed blocks in its
    heaps for reuse, so the app stayed large long after a large analysis (measured: a 4-MP classic
    analysis left 583 MB resident once its result was dropped, 418 MB after `malloc_trim`, 404 MB
    before it). A no-op where the C library has no `malloc_trim`."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


SLOTS = WorkSlots(heavy_work_limit())
