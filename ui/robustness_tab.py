"""Robustness lab: a post-processing chain, before/after maps per method with the change map, and
a sweep over one perturbation's intensity plotting score and F1/IoU. Both run with a live status
line (method, step, elapsed time) and can be stopped."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
import numpy as np

from engines.catalog import engine_class, engine_names, get_engine
from engines.errors import WorkbenchError
from engines.data.imageio import LoadedImage, load_mask
from engines.evaluation.metrics import pixel_scores
from engines.data.perturb import STANDARD_GRIDS, SWEEP_AXES
from engines.reports.plots import AXIS_LABELS, sweep_figure
from engines.evaluation.robustness import PerturbedComparison, compare_clean_and_perturbed, parse_values, sweep_engine
from ui import views
from ui.chain_builder import build_chain_controls, chain_from_values
from ui.image_input import add_examples, build_image_input, load_source
from ui.messages import user_errors, warn
from ui.progress import ignore_step, run_with_stop, streamed_task

SWEEP_DEFAULTS: dict[str, list[float]] = {
    "blur": [0.5, 1.0, 1.5, 2.0, 3.0],
    "noise": [2, 5, 10, 15, 20],
    "gamma": [0.5, 0.8, 1.2, 1.5, 2.0],
    **STANDARD_GRIDS,
}
COMPARISON_HEADERS = ["method", "clean score", "perturbed score", "Δ score", "clean F1", "perturbed F1",
                      "clean IoU", "perturbed IoU"]
SWEEP_HEADERS = ["method", "intensity", "score", "F1", "IoU"]


def default_values(axis: str) -> str:
    return ", ".join(f"{v:g}" for v in SWEEP_DEFAULTS.get(axis, []))


def _ground_truth(image: LoadedImage, mask_path: str | None) -> np.ndarray | None:
    if not mask_path:
        return None
    with user_errors():
        return load_mask(mask_path, size=(image.height, image.width), name="ground-truth mask")


def _scores(heatmap: np.ndarray, gt: np.ndarray | None) -> tuple[float | None, float | None]:
    if gt is None:
        return None, None
    scores = pixel_scores(heatmap, gt)
    return views.rounded(scores["f1"]), views.rounded(scores["iou"])


def _comparison_row(name: str, result: PerturbedComparison, gt: np.ndarray | None) -> list:
    clean_f1, clean_iou = _scores(result.clean.heatmap, gt)
    perturbed_f1, perturbed_iou = _scores(result.perturbed_heatmap, gt)
    return [engine_class(name).title, views.rounded(result.clean.score), views.rounded(result.perturbed.score),
            views.rounded(result.perturbed.score - result.clean.score), clean_f1, perturbed_f1, clean_iou,
            perturbed_iou]


def apply_chain(path: str | None, mask_path: str | None, engines: list[str], seed: float, *chain_values,
                step: Callable[[str], None] = ignore_step):
    """Outputs: perturbed image, before/after/change gallery, comparison table, chain text."""
    if not engines:
        raise gr.Error("Tick at least one method.")
    image = load_source(path)
    gt = _ground_truth(image, mask_path)
    chain = chain_from_values(*chain_values)
    gallery, rows, perturbed_rgb, failures = [], [], None, []
    for position, name in enumerate(engines, start=1):
        title = engine_class(name).title
        step(f"{title} ({position}/{len(engines)}): clean and perturbed image")
        try:
            result = compare_clean_and_perturbed(get_engine(name), image, chain, seed=int(seed or 0))
        except WorkbenchError as exc:
            failures.append(f"{title}: {exc}")
            continue
        perturbed_rgb = result.perturbed_rgb
        gallery += [
            (views.overlay_view(image.rgb, result.clean.heatmap, 0.6, "inferno"),
             f"{title} · before · {result.clean.score:.3f}"),
            (views.overlay_view(image.rgb, result.perturbed_heatmap, 0.6, "inferno"),
             f"{title} · after · {result.perturbed.score:.3f}"),
            (views.change_view(result.change), f"{title} · change (blue lost, red gained)"),
        ]
        rows.append(_comparison_row(name, result, gt))
    for failure in failures:
        warn(failure)
    if perturbed_rgb is None:
        raise gr.Error("No method could analyse the image (see the messages).")
    return perturbed_rgb, gallery, rows, f"Chain: `{chain.describe()}`"


def run_sweep(path: str | None, mask_path: str | None, engines: list[str], axis: str, values_text: str,
              seed: float, step: Callable[[str], None] = ignore_step):
    """Outputs: the matplotlib figure and the table of points."""
    if not engines:
        raise gr.Error("Tick at least one method.")
    image = load_source(path)
    gt = _ground_truth(image, mask_path)
    with user_errors():
        values = parse_values(values_text)
    results, rows, failures = [], [], []
    for position, name in enumerate(engines, start=1):
        title = engine_class(name).title

        def report(done: int, total: int, position: int = position, title: str = title) -> None:
            step(f"{title} ({position}/{len(engines)}): intensity {done}/{total}")

        try:
            result = sweep_engine(get_engine(name), image, axis, values, gt, seed=int(seed or 0), progress=report)
        except WorkbenchError as exc:
            failures.append(f"{title}: {exc}")
            continue
        results.append(result)
        rows += [[title, "clean", views.rounded(result.clean.score), views.rounded(result.clean.f1),
                  views.rounded(result.clean.iou)]]
        rows += [[title, p.value, views.rounded(p.score), views.rounded(p.f1), views.rounded(p.iou)]
                 for p in result.points]
    for failure in failures:
        warn(failure)
    if not results:
        raise gr.Error("No method could analyse the image (see the messages).")
    return sweep_figure(results), rows


def build_robustness_tab() -> None:
    names = engine_names()
    with gr.Row():
        with gr.Column(scale=1):
            picker = build_image_input("robust")
            gt = gr.File(label="Ground-truth mask (optional: adds F1/IoU)", file_types=["image"], elem_id="robust-gt")
            add_examples(picker, gt)
            engines = gr.CheckboxGroup([(engine_class(n).title, n) for n in names], value=names[:1], label="Methods")
            seed = gr.Number(0, precision=0, label="Seed (noise)")
        with gr.Column(scale=2):
            with gr.Tab("Before / after"):
                controls = build_chain_controls("robust")
                with gr.Row():
                    apply = gr.Button("Apply chain and compare", variant="primary", elem_id="robust-apply")
                    apply_stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="robust-apply-stop")
                apply_status = gr.HTML(elem_id="robust-apply-status")
                chain_text = gr.Markdown()
                perturbed = gr.Image(label="Perturbed image", interactive=False, format="png",
                                     elem_id="robust-perturbed")
                gallery = gr.Gallery(label="Per method: before, after, change (each with its colour bar)", columns=3,
                                     height=340, object_fit="contain", format="png", elem_id="robust-gallery")
                table = gr.Dataframe(headers=COMPARISON_HEADERS, interactive=False, elem_id="robust-table")
            with gr.Tab("Intensity sweep"):
                with gr.Row():
                    axis = gr.Dropdown([(AXIS_LABELS.get(a, a), a) for a in SWEEP_AXES], value="jpeg",
                                       label="Perturbation")
                    values = gr.Textbox(default_values("jpeg"), label="Intensities (comma-separated)")
                with gr.Row():
                    sweep = gr.Button("Run sweep", variant="primary", elem_id="robust-sweep")
                    sweep_stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="robust-sweep-stop")
                sweep_status = gr.HTML(elem_id="robust-sweep-status")
                plot = gr.Plot(label="Score and F1/IoU against intensity", format="png", elem_id="robust-plot")
                points = gr.Dataframe(headers=SWEEP_HEADERS, interactive=False, elem_id="robust-points")

    apply_outputs = [perturbed, gallery, table, chain_text]
    run_with_stop(apply, apply_stop, apply_status, "Robustness: before / after",
               streamed_task("Robustness: before / after", apply_chain, apply_outputs, apply_status),
               [picker.source, gt, engines, seed, *controls.components], apply_outputs)
    axis.change(default_values, axis, values)
    sweep_outputs = [plot, points]
    run_with_stop(sweep, sweep_stop, sweep_status, "Intensity sweep",
               streamed_task("Intensity sweep", run_sweep, sweep_outputs, sweep_status),
               [picker.source, gt, engines, axis, values, seed], sweep_outputs)
