"""Compare: every method on the same image, side by side on one colour scale, with one threshold,
each method's verdict, and per-method F1/IoU when a ground-truth mask is given. The results fill
in method by method as each finishes; Stop ends the comparison before the next method."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from engines.catalog import engine_class, engine_names, get_engine
from engines.errors import WorkbenchError
from engines.data.imageio import LoadedImage, load_mask
from engines.evaluation.metrics import pixel_scores
from engines.reports.render import COLORMAPS
from engines.result import Analysis
from engines.verdict import Verdict, analysis_verdict
from ui import views
from ui.export import export_report
from ui.image_input import add_examples, build_image_input, load_source
from ui.messages import user_errors, warn
from ui.progress import Task, done_line, failed_line, ignore_step, run_with_stop

ROW_HEIGHT = 300
"""Pixels per gallery row of three methods."""
TABLE_HEADERS = ["method", "verdict", "score", "calibrated", "flagged area", "F1", "IoU", "seconds", "note"]


@dataclass
class CompareState:
    image: LoadedImage
    analyses: dict[str, Analysis] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def analyse_one(state: CompareState, name: str, step: Callable[[str], None] = ignore_step) -> None:
    """Run one engine with its default profile into `state`; a failure is recorded, not raised
    (`warn_failure` then tells the user, from the callback's own thread)."""
    engine = None
    try:
        engine = get_engine(name)
        if not engine.is_ready():
            step("loading the model")
            engine.load()
        step("analysing")
        analysis = engine.analyze(state.image)
    except WorkbenchError as exc:
        state.errors[name] = str(exc)
        return
    state.analyses[name] = analysis
    state.verdicts[name] = analysis_verdict(analysis)


def analyse_all(path: str | None, engines: list[str]) -> CompareState:
    """Every chosen engine in turn (for scripts and tests; the tab streams `compare_stream`)."""
    if not engines:
        raise gr.Error("Tick at least one method to compare.")
    state = CompareState(image=load_source(path))
    for name in engines:
        analyse_one(state, name)
        warn_failure(state, name)
    return state


def warn_failure(state: CompareState, name: str) -> None:
    if name in state.errors:
        warn(f"{engine_class(name).title}: {state.errors[name]}")


def ground_truth(state: CompareState, mask_path: str | None) -> np.ndarray | None:
    """The uploaded mask as bool H×W, refused with a clear message when its size differs."""
    if not mask_path:
        return None
    with user_errors():
        return load_mask(mask_path, size=(state.image.height, state.image.width), name="ground-truth mask")


def comparison_table(state: CompareState, gt: np.ndarray | None, threshold: float) -> list[list]:
    rows = []
    for name, analysis in state.analyses.items():
        f1 = iou = None
        if gt is not None:
            scores = pixel_scores(analysis.heatmap, gt, threshold)
            f1, iou = views.rounded(scores["f1"]), views.rounded(scores["iou"])
        verdict = state.verdicts[name]
        rows.append([engine_class(name).title, verdict.headline, views.rounded(analysis.score),
                     "yes" if verdict.calibrated else "no", f"{float(analysis.mask_at(threshold).mean()):.1%}",
                     f1, iou, views.rounded(analysis.provenance.seconds), ""])
    rows += [[engine_class(name).title, "", None, "", "", None, None, None, error.splitlines()[0]]
             for name, error in state.errors.items()]
    return rows


def render(state: CompareState | None, mask_path: str | None, threshold: float, cmap: str):
    """Outputs: heatmaps (each with its colour bar), mask outlines, table."""
    if state is None:
        return [], [], []
    gt = ground_truth(state, mask_path)
    rgb = state.image.rgb
    heatmaps = [(views.heatmap_view(a.heatmap, cmap),
                 f"{engine_class(n).title} · {state.verdicts[n].headline} · score {a.score:.3f}")
                for n, a in state.analyses.items()]
    outlines = [(views.mask_view(rgb, a, threshold), f"{engine_class(n).title} · mask > {threshold:.2f}")
                for n, a in state.analyses.items()]
    if gt is not None:
        outlines.append((views.truth_view(rgb, gt), "ground truth"))
    return heatmaps, outlines, comparison_table(state, gt, threshold)


def export(state: CompareState | None) -> str:
    if state is None or not state.analyses:
        raise gr.Error("Compare the methods on an image first.")
    return export_report(state.image, list(state.analyses.values()))


def build_compare_tab() -> None:
    names = engine_names()
    gallery_height = ROW_HEIGHT * math.ceil(len(names) / 3)
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            picker = build_image_input("compare")
            gt = gr.File(label="Ground-truth mask (optional, white = edited, same size as the image)",
                         file_types=["image"], elem_id="compare-gt")
            add_examples(picker, gt)
            engines = gr.CheckboxGroup([(engine_class(n).title, n) for n in names], value=names,
                                       label="Methods")
            with gr.Row():
                run = gr.Button("Compare", variant="primary", elem_id="compare-run")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="compare-stop")
            status = gr.HTML(elem_id="compare-status")
        with gr.Column(scale=2):
            with gr.Row():
                threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Shared mask threshold")
                cmap = gr.Dropdown(list(COLORMAPS), value=COLORMAPS[0], label="Colormap")
            heatmaps = gr.Gallery(label="Heatmaps, one colour scale (bar under each)", columns=3,
                                  height=gallery_height, object_fit="contain", format="png",
                                  elem_id="compare-heatmaps")
            outlines = gr.Gallery(label="Masks at the shared threshold", columns=3, height=gallery_height,
                                  object_fit="contain", format="png", elem_id="compare-masks")
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Per method (F1/IoU need a ground-truth mask)",
                                 interactive=False, elem_id="compare-table")
            with gr.Row():
                export_button = gr.Button("Export all reports (zip)")
                report_file = gr.File(label="Report bundle", interactive=False, height=90)

    outputs = [heatmaps, outlines, table]
    controls = [state, gt, threshold, cmap]

    def compare_stream(path: str | None, chosen: list[str], mask_path: str | None, limit: float,
                       colormap: str) -> Iterator[dict]:
        if not chosen:
            raise gr.Error("Tick at least one method to compare.")
        result = CompareState(image=load_source(path))
        started = time.monotonic()
        for position, name in enumerate(chosen, start=1):
            title = f"{engine_class(name).title} ({position}/{len(chosen)})"
            task = Task(title, lambda step, name=name: analyse_one(result, name, step))
            try:
                for line in task.statuses():
                    yield {status: line}
                task.result()
                warn_failure(result, name)
            except Exception as error:
                yield {status: failed_line(title, error)}
                raise
            finally:
                task.cancel()
            yield {state: result, **dict(zip(outputs, render(result, mask_path, limit, colormap), strict=True))}
        summary = f"{len(result.analyses)} of {len(chosen)} methods compared"
        yield {status: done_line(summary, time.monotonic() - started)}

    run_with_stop(run, stop, status, "Compare", compare_stream, [picker.source, engines, gt, threshold, cmap],
                  [state, *outputs], stopped="stopped; the methods finished so far are shown")
    for control in (gt, threshold, cmap):
        control.change(render, controls, outputs, show_progress="hidden")
    export_button.click(export, state, report_file)
