"""Work that may take more than a second, run in a thread while the callback streams a status line
(the current step and the elapsed time) to the page twice a second; the triggering button is
disabled while it runs and a Stop button cancels it (`run_with_stop`).

A callback written as a generator does `for status in task.statuses(): yield …` and then reads
`task.result()`. Gradio's `cancels=` stops the generator between two yields; `Task.cancel` also
asks the work to stop at its next `step` call (work that cannot be interrupted, such as one
model forward pass, finishes in the background and its result is dropped).
"""

from __future__ import annotations

import contextvars
import html
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from engines.errors import WorkbenchError
from ui.heavy_work import HEAVY_WORK, SLOTS, heavy_work_limit

TICK_SECONDS = 0.5
LATE_MESSAGE_MS = 1000
"""How long after Stop the browser redraws the stopped line (`run_with_stop`)."""
RUNNING_CLASS = "task-running"


def ignore_step(text: str) -> None:
    """The `step` of work run outside a Task (scripts, tests)."""


class Cancelled(WorkbenchError):
    """Raised inside the work by `step` once the task was cancelled."""


class Task:
    def __init__(self, title: str, work: Callable[[Callable[[str], None]], Any]) -> None:
        """`work(step)` runs in a thread; it calls `step("loading the model")` as it goes."""
        self.title = title
        self._step = "starting"
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancel = threading.Event()
        self._started = time.monotonic()
        context = contextvars.copy_context()  # so gr.Info / gr.Warning in the work reach the page
        self._thread = threading.Thread(target=context.run, args=(self._run, work), name=f"task-{title}",
                                        daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Callable[[str], None]], Any]) -> None:
        try:
            with SLOTS.hold(self.step):
                self._result = work(self.step)
        except BaseException as error:  # re-raised in the callback's thread by `result`
            self._error = error

    def step(self, text: str) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"{self.title}: stopped.")
        self._step = text

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def status(self) -> str:
        """One line of HTML: what is being done and for how long."""
        return running_line(f"{self.title} — {self._step}", self.seconds)

    def statuses(self) -> Iterator[str]:
        """The status now, then again every TICK_SECONDS until the work ends."""
        yield self.status()
        while self._thread.is_alive():
            self._thread.join(TICK_SECONDS)
            if self._thread.is_alive():
                yield self.status()

    def result(self) -> Any:
        """The work's return value; its exception is raised here instead."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def finished_line(self, what: str = "done") -> str:
        return done_line(f"{self.title} — {what}", self.seconds)


def running_line(text: str, seconds: float) -> str:
    return (f"<div class='{RUNNING_CLASS}' role='status'><span class='task-spinner'>⏳</span> {html.escape(text)} · "
            f"<span class='task-elapsed'>{seconds:.1f} s</span></div>")


def done_line(text: str, seconds: float) -> str:
    return f"<div class='task-done' role='status'>✓ {html.escape(text)} · {seconds:.1f} s</div>"


def stopped_line(text: str) -> str:
    return f"<div class='task-stopped' role='status'>■ {html.escape(text)}</div>"


def failed_line(title: str, error: BaseException) -> str:
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"<div class='task-failed' role='status'>✗ {html.escape(title)} — {html.escape(first)}</div>"


def streamed_task(title: str, work: Callable, outputs: list, status: gr.HTML) -> Callable[..., Iterator[dict]]:
    """A generator callback: `work(*inputs, step=…)` in a task, the status line while it runs, then
    its outputs."""

    def stream(*inputs) -> Iterator[dict]:
        task = Task(title, lambda step: work(*inputs, step=step))
        try:
            for line in task.statuses():
                yield {status: line}
            values = task.result()
        except Exception as error:
            yield {status: failed_line(title, error)}
            raise
        finally:
            task.cancel()
        yield {status: task.finished_line(), **dict(zip(outputs, values, strict=True))}

    return stream


def run_with_stop(button: gr.Button, stop: gr.Button, status: gr.HTML, title: str, stream: Callable,
                  inputs: list, outputs: list, stopped: str = "stopped") -> None:
    """Wire `button` to run the generator `stream` (which updates `status` and `outputs`): a
    "waiting" line appears at once, drawn by the browser itself (no round trip to a busy server),
    the button is disabled while the work runs, and `stop` cancels it. Every such event shares the
    app's limit on heavy work (`ui.heavy_work`)."""
    waiting = running_line(f"{title} — waiting to start", 0.0)
    button.click(None, None, status, js=f"() => {json.dumps(waiting)}")
    busy = (gr.update(interactive=False), gr.update(interactive=True))
    event = button.click(lambda: busy, None, [button, stop], queue=False).then(
        stream, inputs, [status, *outputs], show_progress="hidden", concurrency_id=HEAVY_WORK,
        concurrency_limit=heavy_work_limit())
    event.then(lambda: (gr.update(interactive=True), gr.update(interactive=False)), None, [button, stop], queue=False)
    stopped_html = stopped_line(f"{title}: {stopped}.")
    idle = (gr.update(interactive=True), gr.update(interactive=False), stopped_html)
    # A status line the stream sent just before the cancel can reach the page after Stop's answer
    # (seen in the browser test: a frozen "analysing · 0.5 s" after Stop), so the browser draws
    # the stopped line again a moment later: the last word is "stopped".
    redraw = f"() => new Promise(done => setTimeout(() => done({json.dumps(stopped_html)}), {LATE_MESSAGE_MS}))"
    stop.click(lambda: idle, None, [button, stop, status], cancels=[event], queue=False).then(
        None, None, status, js=redraw, queue=False)
