"""Evaluate: engines × perturbations on a benchmark or a dataset folder, in a background job, with a
metrics table, CSV/JSON export and a browser of the worst and best images."""

from __future__ import annotations

import datetime
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from engines.reports.bundle import safe_stem
from engines.catalog import engine_class, engine_names, get_engine
from engines.data.datasets import ForgeryDataset, open_dataset
from engines.evaluation.evaluate import ImageRecord, worst_and_best
from engines.evaluation.grid import GridRun, evaluate_grid
from engines.evaluation.export import TABLE_COLUMNS, metrics_rows, write_metrics_csv, write_runs_json
from engines.data.imageio import load_image
from engines.data.paths import check_input_dir
from engines.data.perturb import Chain, parse_chain
from engines.reports.render import mask_outline, resize_map
from engines.evaluation.robustness import perturb_image
from engines.settings import get_settings
from ui import views
from ui.gradio_files import downloadable, upload_folder
from ui.jobs import IDLE, BackgroundJob, JobContext, SessionJobs
from ui.messages import user_errors

NO_PERTURBATION = "none"
PERTURBATION_CHOICES = [NO_PERTURBATION, "jpeg=90", "jpeg=70", "jpeg=50", "resize=0.5", "blur=1",
                        "noise=5", "gamma=1.5", "preset=facebook", "preset=whatsapp"]
BROWSER_SIZE = 6
"""How many worst and best images the browser shows."""


@dataclass
class EvaluationOutcome:
    dataset: ForgeryDataset
    runs: list[GridRun]
    csv: Path
    json: Path


def benchmark_choices() -> list[tuple[str, str]]:
    root = get_settings().benchmarks_dir
    if not root.is_dir():
        return []
    return [(folder.name, str(folder)) for folder in sorted(root.iterdir()) if folder.is_dir()]


def chains_from(selected: list[str], custom: str) -> list[Chain | None]:
    """The chosen perturbations ('none' = the clean images) plus an optional typed chain."""
    chains: list[Chain | None] = [None if spec == NO_PERTURBATION else parse_chain(spec) for spec in selected]
    if custom and custom.strip():
        chains.append(parse_chain(custom))
    return chains


def open_chosen_dataset(benchmark: str | None, custom_path: str, limit: float) -> ForgeryDataset:
    """The typed path if any, else the chosen benchmark; a balanced subset of `limit` samples (0 = all)."""
    typed = (custom_path or "").strip()
    if not typed and not benchmark:
        raise gr.Error("Choose a benchmark or type the path of a dataset folder.")
    with user_errors():
        path = check_input_dir(typed or benchmark, "dataset", allow_file=True, extra_roots=[upload_folder()])
        dataset = open_dataset(path)
    return dataset.subset(int(limit)) if int(limit) > 0 else dataset


def results_folder(dataset_name: str) -> Path:
    """A new folder for one evaluation's files, under the runs folder (the only one the workbench writes)."""
    root = get_settings().runs_dir / "evaluations"
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"{safe_stem(dataset_name)}-{stamp}-", dir=root))


def start_evaluation(job: BackgroundJob, engines: list[str], benchmark: str | None, custom_path: str,
                     perturbations: list[str], custom_chain: str, limit: float, include_authentic: bool,
                     seed: float) -> tuple[str, gr.Timer]:
    if not engines:
        raise gr.Error("Tick at least one engine.")
    if limit is None or seed is None:
        raise gr.Error("Fill in the number of images (0 = all) and the seed.")
    dataset = open_chosen_dataset(benchmark, custom_path, limit)
    with user_errors():
        chains = chains_from(perturbations, custom_chain)

    def work(context: JobContext) -> EvaluationOutcome:
        runs = evaluate_grid(engines, dataset, chains, seed=int(seed), include_authentic=bool(include_authentic),
                             progress=context.report, should_stop=context.should_stop)
        folder = results_folder(dataset.name)
        return EvaluationOutcome(dataset, runs, write_metrics_csv(runs, folder / f"{dataset.name}_metrics.csv"),
                                 write_runs_json(runs, folder / f"{dataset.name}_evaluation.json"))

    with user_errors():
        job.start(f"evaluating {len(engines)} engine(s) × {len(chains)} perturbation(s) on {dataset.name} "
                  f"({len(dataset)} images)", work)
    return "Evaluation started…", gr.Timer(active=True)


def table_rows(runs: list[GridRun]) -> list[list]:
    return [[views.rounded(v) if isinstance(v, float) else v for v in row.values()] for row in metrics_rows(runs)]


def poll(job: BackgroundJob, shown_id: int, outcome: EvaluationOutcome | None):
    """Outputs: progress, status, table, run selector, CSV, JSON, outcome state, timer, shown id."""
    snap = job.snapshot()
    unchanged = (gr.update(),) * 4 + (outcome,)
    if snap.state == IDLE:
        return ("", "Nothing has run yet.", *unchanged, gr.Timer(active=False), shown_id)
    progress = views.progress_html(snap.fraction, snap.message)
    status = f"**{snap.description}** — {snap.state} · {snap.seconds:.0f} s"
    if snap.error:
        status += f"\n\n{snap.error}"
    if snap.running or snap.job_id == shown_id or not isinstance(snap.result, EvaluationOutcome):
        return (progress, status, *unchanged, gr.Timer(active=snap.running), shown_id)
    result: EvaluationOutcome = snap.result
    labels = [run.label for run in result.runs if run.report is not None]
    failed = [f"{run.label}: {run.error}" for run in result.runs if run.error]
    if failed:
        status += "\n\n" + "\n\n".join(failed)
    return (progress, status, table_rows(result.runs),
            gr.update(choices=labels, value=labels[0] if labels else None),
            downloadable(result.csv), downloadable(result.json), result, gr.Timer(active=False), snap.job_id)


def _run(outcome: EvaluationOutcome | None, label: str | None) -> GridRun:
    if outcome is None:
        raise gr.Error("Run an evaluation first.")
    for run in outcome.runs:
        if run.label == label and run.report is not None:
            return run
    raise gr.Error("Choose one of the evaluated runs.")


def _cases(outcome: EvaluationOutcome | None, label: str | None) -> tuple[list[ImageRecord], list[ImageRecord]]:
    return worst_and_best(_run(outcome, label).report.records, BROWSER_SIZE)


def browse(outcome: EvaluationOutcome | None, label: str | None):
    """Outputs: worst and best galleries (thumbnails captioned with F1 and score)."""
    if outcome is None or not label:
        return [], []
    worst, best = _cases(outcome, label)

    def items(records: list[ImageRecord]) -> list[tuple]:
        with user_errors():
            return [(views.thumbnail(load_image(r.image).rgb, 256), f"F1 {r.f1:.3f} · score {r.score:.3f} · "
                     f"{Path(r.image).name}") for r in records]

    return items(worst), items(best)


def show_case(outcome: EvaluationOutcome | None, label: str | None, which: str, position: int):
    """Re-analyse the chosen image as the run saw it. Outputs: heatmap overlay, the ground truth
    (magenta) with the prediction (green) outlined, and a caption."""
    run = _run(outcome, label)
    worst, best = _cases(outcome, label)
    record = (worst if which == "worst" else best)[position]
    index = next(i for i, s in enumerate(outcome.dataset) if str(s.image) == record.image)
    with user_errors():
        image, gt = outcome.dataset.load(index)
        analysed = perturb_image(image, run.chain, seed=0) if run.chain is not None else image
        analysis = get_engine(run.engine).analyze(analysed)
    heatmap = resize_map(analysis.heatmap, image.height, image.width)
    outlined = views.truth_view(image.rgb, gt) if gt is not None else image.rgb
    outlined = mask_outline(outlined, heatmap > 0.5)
    caption = (f"**{Path(record.image).name}** — {run.label} · F1 {record.f1:.3f} · IoU {record.iou:.3f} · "
               f"score {record.score:.3f}")
    return views.overlay_view(image.rgb, heatmap, 0.6, "inferno"), outlined, caption


def show_worst(outcome: EvaluationOutcome | None, label: str | None, evt: gr.SelectData):
    return show_case(outcome, label, "worst", evt.index)


def show_best(outcome: EvaluationOutcome | None, label: str | None, evt: gr.SelectData):
    return show_case(outcome, label, "best", evt.index)


def build_evaluate_tab(app: gr.Blocks) -> SessionJobs:
    """Lays out the tab; returns its jobs (one evaluation at a time per browser session)."""
    jobs = SessionJobs("evaluation")
    names = engine_names()
    benchmarks = benchmark_choices()
    shown = gr.State(0)
    outcome = gr.State(None)
    timer = gr.Timer(1.0, active=False)
    with gr.Row():
        with gr.Column(scale=1):
            engines = gr.CheckboxGroup([(engine_class(n).title, n) for n in names], value=names[:1], label="Engines")
            benchmark = gr.Dropdown(benchmarks, value=benchmarks[0][1] if benchmarks else None, label="Benchmark")
            custom_path = gr.Textbox(label="…or a dataset folder / index / list file (overrides the benchmark)",
                                     elem_id="eval-path")
            perturbations = gr.CheckboxGroup(PERTURBATION_CHOICES, value=[NO_PERTURBATION], label="Perturbations")
            custom_chain = gr.Textbox(label="…and/or a chain of your own", placeholder="resize=0.75+jpeg=70")
            with gr.Row():
                limit = gr.Number(20, precision=0, minimum=0, label="Images (0 = all; balanced subset)",
                                  elem_id="eval-limit")
                seed = gr.Number(0, precision=0, label="Seed")
            include_authentic = gr.Checkbox(False, label="Average pixel metrics over authentic images too")
            with gr.Row():
                run = gr.Button("Run evaluation", variant="primary", elem_id="eval-run")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=2):
            progress = gr.HTML(elem_id="eval-progress")
            status = gr.Markdown("Nothing has run yet.", elem_id="eval-status")
            table = gr.Dataframe(headers=list(TABLE_COLUMNS), label="Metrics (pixel metrics at threshold 0.5)",
                                 interactive=False, elem_id="eval-table")
            with gr.Row():
                csv_file = gr.File(label="Metrics (CSV)", interactive=False, height=90, elem_id="eval-csv")
                json_file = gr.File(label="Everything, with per-image rows (JSON)", interactive=False, height=90)
            gr.Markdown("### Per-image browser: worst and best by pixel F1 (tampered images)")
            chosen_run = gr.Dropdown([], label="Run", elem_id="eval-run-choice")
            with gr.Row():
                worst = gr.Gallery(label="Worst (click one to see it)", columns=3, height=280, format="png",
                                   object_fit="contain", fit_columns=False, elem_id="eval-worst")
                best = gr.Gallery(label="Best (click one to see it)", columns=3, height=280, format="png",
                                  object_fit="contain", fit_columns=False, elem_id="eval-best")
            case_caption = gr.Markdown()
            with gr.Row():
                case_overlay = gr.Image(label="Heatmap", interactive=False, format="png", elem_id="eval-case-heatmap")
                case_outline = gr.Image(label="Truth (magenta) vs prediction (green)", interactive=False, format="png")

    inputs = [engines, benchmark, custom_path, perturbations, custom_chain, limit, include_authentic, seed]

    def start_own(request: gr.Request, *values):
        return start_evaluation(jobs.of(request.session_hash), *values)

    def stop_own(request: gr.Request) -> str:
        return "Stopping…" if jobs.of(request.session_hash).stop() else "Nothing is running."

    def poll_own(request: gr.Request, shown_id: int, outcome_value: EvaluationOutcome | None):
        return poll(jobs.of(request.session_hash), shown_id, outcome_value)

    def end_session(request: gr.Request) -> None:
        jobs.end(request.session_hash)

    run.click(start_own, inputs, [status, timer], api_name="start_evaluation")
    stop.click(stop_own, None, status, concurrency_limit=None, api_name="stop_evaluation")
    poll_outputs = [progress, status, table, chosen_run, csv_file, json_file, outcome, timer, shown]
    timer.tick(poll_own, [shown, outcome], poll_outputs, concurrency_limit=None, show_progress="hidden")
    app.load(poll_own, [shown, outcome], poll_outputs, concurrency_limit=None)
    app.unload(end_session)
    chosen_run.change(browse, [outcome, chosen_run], [worst, best])
    case_outputs = [case_overlay, case_outline, case_caption]
    worst.select(show_worst, [outcome, chosen_run], case_outputs)
    best.select(show_best, [outcome, chosen_run], case_outputs)
    return jobs
