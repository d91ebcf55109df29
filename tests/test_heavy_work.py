"""One limit on heavy work for the whole app: streamed analyses and background jobs share the same
slots, work waits (saying so) while none is free, a waiting job can be stopped, and every heavy
event is queued under one Gradio concurrency id; memory freed by the work goes back to the system."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from ui.heavy_work import HEAVY_WORK, WorkSlots, heavy_work_limit, return_freed_memory
from ui.jobs import FINISHED, STOPPED, BackgroundJob
from ui.progress import Task, run_with_stop, streamed_task

TIMEOUT = 10.0


@pytest.fixture
def slots(monkeypatch: pytest.MonkeyPatch) -> WorkSlots:
    shared = WorkSlots(2)
    monkeypatch.setattr("ui.progress.SLOTS", shared)
    monkeypatch.setattr("ui.jobs.SLOTS", shared)
    return shared


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_analyses_and_jobs_share_the_slots_and_wait_for_a_free_one(slots: WorkSlots):
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def work(step=None, context=None):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(TIMEOUT)
        with lock:
            running[0] -= 1
        return "done"

    tasks = [Task(f"analysis {i}", lambda step: work(step)) for i in range(2)]
    wait_until(lambda: slots.busy == 2, "two analyses to run")
    job = BackgroundJob("evaluation")
    job.start("an evaluation", lambda context: work(context=context))
    third = Task("analysis 3", lambda step: work(step))
    wait_until(lambda: "waiting for a free slot" in job.snapshot().message, "the job to wait")
    wait_until(lambda: "waiting for a free slot" in third.status(), "the third analysis to wait")
    assert running[0] == 2
    release.set()
    assert [t.result() for t in (*tasks, third)] == ["done"] * 3
    assert job.wait(TIMEOUT).state == FINISHED
    assert most[0] == 2 and slots.busy == 0


def test_a_job_stopped_while_waiting_never_runs(slots: WorkSlots):
    release = threading.Event()
    holders = [Task(f"analysis {i}", lambda step: release.wait(TIMEOUT)) for i in range(2)]
    wait_until(lambda: slots.busy == 2, "two analyses to run")
    ran = threading.Event()
    job = BackgroundJob("training")
    job.start("a training run", lambda context: ran.set())
    wait_until(lambda: "waiting" in job.snapshot().message, "the job to wait")
    job.stop()
    snapshot = job.wait(TIMEOUT)
    release.set()
    for task in holders:
        task.result()
    assert snapshot.state == STOPPED and not ran.is_set()


def test_a_slot_is_held_until_stopped_work_really_ends(slots: WorkSlots):
    """Stop drops an uninterruptible step's result, but its slot is free only when it ends."""
    release = threading.Event()
    task = Task("forward pass", lambda step: release.wait(TIMEOUT))
    wait_until(lambda: slots.busy == 1, "the work to start")
    task.cancel()
    time.sleep(0.2)
    assert slots.busy == 1
    release.set()
    task.result()
    assert slots.busy == 0


def test_every_heavy_event_shares_one_concurrency_id_and_limit():
    with gr.Blocks() as app:
        for title in ("Inspect", "Compare"):
            button, stop, status = gr.Button(title), gr.Button("Stop"), gr.HTML()
            run_with_stop(button, stop, status, title, streamed_task(title, lambda step: (), [], status), [], [])
    heavy = [fn for fn in app.fns.values() if fn.concurrency_id == HEAVY_WORK]
    assert len(heavy) == 2 and {fn.concurrency_limit for fn in heavy} == {heavy_work_limit()}


def resident_mb() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_freed_memory_goes_back_to_the_system():
    """300 MB of small arrays, one in 64 kept (so the freed memory is scattered, as after an
    analysis): glibc keeps it resident until `return_freed_memory`."""
    blocks = [np.ones(16_000, np.uint8) for _ in range(20_000)]
    kept = blocks[::64]
    del blocks
    gc.collect()
    held = resident_mb()
    return_freed_memory()
    assert held - resident_mb() > 200 and len(kept) == 313
