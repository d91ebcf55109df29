"""Jobs per browser session: each session has its own, and a closed session's job is stopped."""

from __future__ import annotations

import threading

from ui.jobs import STOPPED, SessionJobs


def test_each_session_has_its_own_job_and_a_closed_session_stops_and_forgets_it():
    jobs = SessionJobs("training")
    assert jobs.of("a") is jobs.of("a") and jobs.of("a") is not jobs.of("b") and len(jobs) == 2
    started = threading.Event()

    def work(context):
        started.set()
        while not context.should_stop():
            started.wait(0.01)

    job = jobs.of("a")
    job.start("long", work)
    started.wait(5)
    assert not jobs.of("b").stop() and job.running, "another session cannot stop it"
    jobs.end("a")
    assert job.wait(5).state == STOPPED and len(jobs) == 1
    assert jobs.of("a") is not job and jobs.of("a").snapshot().state == "idle"
    jobs.end("never-seen")
