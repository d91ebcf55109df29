"""Batch, in the Evaluate tab: a whole collection through several engines on Ray Data
(`engines.batch`), in a background job with a count and an ETA, a preview of the Parquet table and
its summary to download. The models are built by the batch workers, never here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from engines.batch.inputs import collect_inputs
from engines.batch.runner import SUMMARY_FILE, BatchRequest, BatchSummary, run_batch
from engines.batch.table import read_table, rows_folder
from engines.reports.bundle import safe_stem
from engines.catalog import engine_class, engine_names
from engines.data.paths import check_output_dir
from engines.settings import get_settings
from ui import views
from ui.gradio_files import downloadable, upload_folder
from ui.jobs import IDLE, BackgroundJob, JobContext, SessionJobs
from ui.messages import user_errors

PREVIEW_COLUMNS = ("path", "engine", "score", "verdict", "flagged_fraction", "seconds", "error")
PREVIEW_ROWS = 20
BATCH_FOLDER = "batch"
"""Batch tables go to `<runs>/batch/<name>/`; the same name again resumes that table."""


@dataclass
class BatchOutcome:
    summary: BatchSummary


def output_folder(name: str) -> Path:
    typed = safe_stem((name or "").strip() or "collection")
    with user_errors():
        return check_output_dir(get_settings().runs_dir / BATCH_FOLDER / typed, "batch folder")


def start_batch(job: BackgroundJob, source: str, engines: list[str], name: str, workers: float,
                reports: bool) -> tuple[str, gr.Timer]:
    if not engines:
        raise gr.Error("Tick at least one engine.")
    if not (source or "").strip():
        raise gr.Error("Type a folder, a glob (e.g. …/photos/*.jpg), a list or a dataset index.")
    with user_errors():
        inputs = collect_inputs(source, extra_roots=[upload_folder()])
        request = BatchRequest(tuple(inputs), tuple(engines), output_folder(name),
                               workers=int(workers) if workers else None, reports=bool(reports))

    def work(context: JobContext) -> BatchOutcome:
        return BatchOutcome(run_batch(request, progress=context.report, should_stop=context.should_stop))

    with user_errors():
        job.start(f"batch of {len(inputs)} image(s) × {len(engines)} engine(s) into {request.out_dir}", work)
    return "Batch started (Ray starts its workers first: the first rows take a while)…", gr.Timer(active=True)


def preview_rows(out_dir: Path) -> list[list]:
    table = read_table(out_dir).select(list(PREVIEW_COLUMNS)).slice(0, PREVIEW_ROWS)
    return [[views.rounded(v) if isinstance(v, float) else v for v in row.values()] for row in table.to_pylist()]


def poll(job: BackgroundJob, shown_id: int):
    """Outputs: progress, status, preview table, summary file, timer, shown id."""
    snap = job.snapshot()
    if snap.state == IDLE:
        return "", "Nothing has run yet.", gr.update(), gr.update(), gr.Timer(active=False), shown_id
    progress = views.progress_html(snap.fraction, snap.message)
    status = f"**{snap.description}** — {snap.state} · {snap.seconds:.0f} s"
    if snap.error:
        status += f"\n\n{snap.error}"
    if snap.running or snap.job_id == shown_id or not isinstance(snap.result, BatchOutcome):
        return progress, status, gr.update(), gr.update(), gr.Timer(active=snap.running), shown_id
    summary = snap.result.summary
    status += (f"\n\n{summary.rows_written} row(s) written, {summary.skipped} already done, {summary.errors} "
               f"error row(s). Table: `{rows_folder(summary.out_dir)}` (Parquet).")
    return (progress, status, preview_rows(summary.out_dir), downloadable(summary.out_dir / SUMMARY_FILE),
            gr.Timer(active=False), snap.job_id)


def build_batch_panel(app: gr.Blocks) -> SessionJobs:
    """Lays out the panel; returns its jobs (one batch at a time per browser session)."""
    jobs = SessionJobs("batch")
    names = engine_names()
    shown = gr.State(0)
    timer = gr.Timer(1.0, active=False)
    with gr.Accordion("Batch: a whole collection, every image with several engines (Ray Data, resumable)", open=False):
        with gr.Row():
            with gr.Column(scale=1):
                source = gr.Textbox(label="Folder, glob, list (CSV/TXT) or dataset index", elem_id="batch-input")
                engines = gr.CheckboxGroup([(engine_class(n).title, n) for n in names], value=names[:1], label="Engines")
                name = gr.Textbox("collection", label=f"Table name (runs/{BATCH_FOLDER}/NAME; the same name resumes)")
                with gr.Row():
                    workers = gr.Number(0, precision=0, minimum=0, label="Workers per engine (0 = one per core)")
                    reports = gr.Checkbox(False, label="Also write each image's report")
                with gr.Row():
                    run = gr.Button("Run batch", variant="primary", elem_id="batch-run")
                    stop = gr.Button("Stop", variant="stop")
            with gr.Column(scale=2):
                progress = gr.HTML(elem_id="batch-progress")
                status = gr.Markdown("Nothing has run yet.", elem_id="batch-status")
                table = gr.Dataframe(headers=list(PREVIEW_COLUMNS), label=f"First {PREVIEW_ROWS} rows",
                                     interactive=False, elem_id="batch-table")
                summary = gr.File(label="Summary (JSON)", interactive=False, height=90)

    def start_own(request: gr.Request, *values):
        return start_batch(jobs.of(request.session_hash), *values)

    def stop_own(request: gr.Request) -> str:
        return "Stopping after the current rows…" if jobs.of(request.session_hash).stop() else "Nothing is running."

    def poll_own(request: gr.Request, shown_id: int):
        return poll(jobs.of(request.session_hash), shown_id)

    def end_session(request: gr.Request) -> None:
        jobs.end(request.session_hash)

    run.click(start_own, [source, engines, name, workers, reports], [status, timer], api_name="start_batch")
    stop.click(stop_own, None, status, concurrency_limit=None, api_name="stop_batch")
    timer.tick(poll_own, [shown], [progress, status, table, summary, timer, shown], concurrency_limit=None,
               show_progress="hidden")
    app.unload(end_session)
    return jobs
