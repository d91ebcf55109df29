"""Compare: every method on the same image, side by side on one colour scale, with one threshold,
and per-method F1/IoU when a ground-truth mask is given."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from engines.catalog import engine_class, engine_names, get_engine
from engines.errors import WorkbenchError
from engines.imageio import LoadedImage, load_mask
from engines.metrics import pixel_scores
from engines.render import COLORMAPS
from engines.result import Analysis
from ui import views
from ui.export import export_report
from ui.image_input import add_examples, build_image_input, load_source
from ui.messages import user_errors, warn

ROW_HEIGHT = 260
"""Pixels per gallery row of three methods."""
TABLE_HEADERS = ["method", "score", "flagged area", "F1", "IoU", "seconds", "note"]


@dataclass
class CompareState:
    image: LoadedImage
    analyses: dict[str, Analysis] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def analyse_all(path: str | None, engines: list[str]) -> CompareState:
    """Run each chosen engine with its default profile; one that fails is reported, not fatal."""
    if not engines:
        raise gr.Error("Tick at least one method to compare.")
    state = CompareState(image=load_source(path))
    for name in engines:
        try:
            state.analyses[name] = get_engine(name).analyze(state.image)
        except WorkbenchError as exc:
            state.errors[name] = str(exc)
            warn(f"{engine_class(name).title}: {exc}")
    return state


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
            f1, iou = round(scores["f1"], 4), round(scores["iou"], 4)
        rows.append([engine_class(name).title, round(analysis.score, 4),
                     f"{float(analysis.mask_at(threshold).mean()):.1%}", f1, iou,
                     round(analysis.provenance.seconds, 2), ""])
    rows += [[engine_class(name).title, None, "", None, None, None, error.splitlines()[0]]
             for name, error in state.errors.items()]
    return rows


def render(state: CompareState | None, mask_path: str | None, threshold: float, cmap: str):
    """Outputs: colour scale, heatmaps, mask outlines, table."""
    if state is None:
        return None, [], [], []
    gt = ground_truth(state, mask_path)
    rgb = state.image.rgb
    heatmaps = [(views.heatmap_view(a.heatmap, cmap), f"{engine_class(n).title} · score {a.score:.3f}")
                for n, a in state.analyses.items()]
    outlines = [(views.mask_view(rgb, a, threshold), f"{engine_class(n).title} · mask > {threshold:.2f}")
                for n, a in state.analyses.items()]
    if gt is not None:
        outlines.append((views.truth_view(rgb, gt), "ground truth"))
    return views.colour_scale(cmap), heatmaps, outlines, comparison_table(state, gt, threshold)


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
            run = gr.Button("Compare", variant="primary", elem_id="compare-run")
        with gr.Column(scale=2):
            with gr.Row():
                threshold = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Shared mask threshold")
                cmap = gr.Dropdown(list(COLORMAPS), value=COLORMAPS[0], label="Colormap")
            scale = gr.Image(label="Colour scale: 0 (left) to 1 (right), the same for every method",
                             interactive=False, format="png", height=60, elem_id="compare-scale")
            heatmaps = gr.Gallery(label="Heatmaps", columns=3, height=gallery_height, fit_columns=False,
                                  format="png", elem_id="compare-heatmaps")
            outlines = gr.Gallery(label="Masks at the shared threshold", columns=3, height=gallery_height,
                                  fit_columns=False, format="png", elem_id="compare-masks")
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Per method (F1/IoU need a ground-truth mask)",
                                 interactive=False, elem_id="compare-table")
            with gr.Row():
                export_button = gr.Button("Export all reports (zip)")
                report_file = gr.File(label="Report bundle", interactive=False, height=90)

    outputs = [scale, heatmaps, outlines, table]
    controls = [state, gt, threshold, cmap]
    run.click(analyse_all, [picker.source, engines], state).then(render, controls, outputs)
    for control in (gt, threshold, cmap):
        control.change(render, controls, outputs)
    export_button.click(export, state, report_file)
