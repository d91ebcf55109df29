"""Inspect: one panel per engine — pick an image, analyse it (with a live status line that can be
stopped), read the verdict and its measured reliability, the heatmap, mask, maps, explanation and
provenance, and download the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gradio as gr
import numpy as np

from engines.catalog import engine_class, get_engine
from engines.consistency import Reading, reconcile
from engines.data.imageio import LoadedImage
from engines.reports.map_legend import evidence_picture
from engines.reports.render import COLORMAPS, default_outline_width
from engines.result import Analysis
from engines.training.runs import is_trainable
from engines.verdict import Verdict, analysis_verdict
from ui import views
from ui.export import export_report
from ui.image_input import add_examples, build_image_input, load_source
from ui.magnifier import build_magnifier, heatmap_record
from ui.messages import user_errors
from ui.profiles import profile_choices, profile_state
from ui.progress import Task, failed_line, ignore_step, run_with_stop
from ui.weights import DEFAULT_WEIGHTS, weights_choices, weights_path, weights_update

HEATMAP_CHOICE, OUTLINE_CHOICE = "heatmap overlay", "mask outline"


@dataclass
class InspectState:
    image: LoadedImage
    analysis: Analysis
    verdict: Verdict


def run_engine(engine_name: str, path: str | None, profile: str, weights: str | None = None,
               step: Callable[[str], None] = ignore_step) -> InspectState:
    """Analyse the chosen file itself (its original bytes, not the preview's re-encoding)."""
    cls = engine_class(engine_name)
    step("reading the image")
    image = load_source(path)
    with user_errors():
        engine = get_engine(engine_name, profile, weights=weights_path(weights))
        if not engine.is_ready():
            step(f"loading the {cls.title} model (first use in this session)")
            engine.load()
        step("analysing the image" + (" and writing the explanation" if cls.writes_explanations else ""))
        analysis = engine.analyze(image)
    return InspectState(image=image, analysis=analysis, verdict=analysis_verdict(analysis))


def slider_choices(state: InspectState | None) -> list[str]:
    if state is None:
        return [HEATMAP_CHOICE, OUTLINE_CHOICE]
    return [HEATMAP_CHOICE, OUTLINE_CHOICE, *state.analysis.maps]


def slider_view(state: InspectState | None, choice: str, opacity: float, cmap: str, threshold: float,
                width: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The image beside one picture of the same size (overlay, outline or a map), for the slider."""
    if state is None:
        return None
    rgb, analysis = state.image.rgb, state.analysis
    if choice == OUTLINE_CHOICE:
        return rgb, views.mask_view(rgb, analysis, threshold, int(width))
    if choice in analysis.maps:
        picture, _ = evidence_picture(choice, analysis.maps[choice], cmap)
        return rgb, picture[: rgb.shape[0]]
    return rgb, views.overlay_view(rgb, analysis.heatmap, opacity, cmap)[: rgb.shape[0]]


def read_pixel(state: InspectState | None, threshold: float, evt: gr.SelectData) -> str:
    """The heatmap, mask and every map's value at the clicked pixel (the colour bar under the
    overlay is not part of the image)."""
    if state is None or evt.index is None:
        return ""
    x, y = (int(v) for v in evt.index[:2])
    return views.pixel_readout(state.analysis, x, y, threshold)


def render(state: InspectState | None, opacity: float, cmap: str, threshold: float, width: float) -> tuple:
    """Outputs, in order: overlay, outline, binary mask, evidence maps, verdict, provenance record,
    provenance line, explanation box visibility, evidence, explanation, withheld box, withheld text.
    The maps gallery is hidden for an engine that gives no maps."""
    if state is None:
        return (None, None, None, [], "", None, "", gr.update(visible=False), None, "", gr.update(visible=False), "")
    rgb, analysis = state.image.rgb, state.analysis
    reading: Reading = reconcile(analysis, state.verdict, threshold)
    explanation = views.explanation_markdown(analysis, reading)
    withheld = views.withheld_explanation(analysis, reading)
    return (
        views.overlay_view(rgb, analysis.heatmap, opacity, cmap),
        views.mask_view(rgb, analysis, threshold, int(width)),
        views.binary_mask_view(analysis, threshold),
        gr.update(value=views.evidence_gallery(analysis, cmap), visible=bool(analysis.maps)),
        views.verdict_markdown(state.verdict, reading, analysis, threshold),
        views.provenance_record(analysis),
        views.provenance_markdown(analysis),
        gr.update(visible=bool(explanation or withheld or analysis.evidence)),
        gr.update(value=analysis.evidence or None, label=views.evidence_label(analysis)),
        explanation,
        gr.update(visible=bool(withheld)),
        withheld,
    )


def export(state: InspectState | None) -> str:
    if state is None:
        raise gr.Error("Analyse an image first; the report is made from that analysis.")
    return export_report(state.image, [state.analysis])


def build_inspect_panel(engine_name: str) -> None:
    cls = engine_class(engine_name)
    trainable = is_trainable(engine_name)
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            picker = build_image_input(engine_name)
            add_examples(picker)
            profile = gr.Dropdown(profile_choices(engine_name), value=cls.default_profile, label="Profile",
                                  elem_id=f"{engine_name}-profile")
            with gr.Row(visible=trainable):
                weights = gr.Dropdown(weights_choices(engine_name, cls.default_profile), value=DEFAULT_WEIGHTS,
                                      label="Weights", scale=4, elem_id=f"{engine_name}-weights")
                refresh = gr.Button("↻", scale=0, min_width=40)
            availability = gr.HTML(elem_id=f"{engine_name}-availability")
            with gr.Row():
                analyse = gr.Button("Analyse", variant="primary", elem_id=f"{engine_name}-analyse")
                stop = gr.Button("Stop", variant="stop", elem_id=f"{engine_name}-stop", interactive=False)
            status = gr.HTML(elem_id=f"{engine_name}-status")
            with gr.Accordion("How to read this / what to ignore", open=True):
                gr.Markdown(cls.reading_guide)
        with gr.Column(scale=2):
            verdict = gr.Markdown(elem_id=f"{engine_name}-verdict")
            with gr.Row():
                opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05,
                                    label="Overlay opacity at value 1 (follows the value)")
                cmap = gr.Dropdown(list(COLORMAPS), value=COLORMAPS[0], label="Colormap")
                threshold = gr.Slider(0.0, 1.0, value=cls.threshold, step=0.01,
                                      label="Mask threshold (the method's own after each analysis)")
                width = gr.Slider(1, 12, value=default_outline_width((1000, 1000)) + 1, step=1,
                                  label="Outline width (px)")
            with gr.Row():
                overlay_image = gr.Image(label="Heatmap overlay", interactive=False, format="png",
                                         elem_id=f"{engine_name}-overlay")
                outline_image = gr.Image(label="Mask outline (green, dark halo)", interactive=False, format="png",
                                         elem_id=f"{engine_name}-outline")
            lens = build_magnifier(engine_name)
            readout = gr.Markdown("Click the overlay or the outline to read every map's value at that pixel.",
                                  elem_id=f"{engine_name}-readout")
            pairs_image = gr.Image(label="Copy-move pairs", interactive=False, format="png", visible=False,
                                   elem_id=f"{engine_name}-pairs")
            with gr.Group(visible=False) as explanation_box:
                explanation = gr.Markdown(elem_id=f"{engine_name}-explanation")
                with gr.Accordion("Written explanation (withheld as a finding)", open=False,
                                  visible=False) as withheld_box:
                    withheld = gr.Markdown(elem_id=f"{engine_name}-withheld")
                evidence = gr.JSON(label="Evidence: the measured numbers behind the result")
            maps = gr.Gallery(label="Evidence maps (each with its colour bar and scale)", columns=3, height="auto",
                              object_fit="contain", format="png", elem_id=f"{engine_name}-maps")
            with gr.Accordion("Before / after: the image against any map", open=False):
                slider_choice = gr.Dropdown(slider_choices(None), value=HEATMAP_CHOICE, label="Compare the image with")
                slider = gr.ImageSlider(label="Drag to compare", interactive=False, format="png",
                                        elem_id=f"{engine_name}-slider")
            mask_image = gr.Image(label="Binary mask", interactive=False, format="png", height=240,
                                  elem_id=f"{engine_name}-mask")
            provenance_line = gr.Markdown(elem_id=f"{engine_name}-provenance")
            with gr.Accordion("Provenance record", open=False):
                provenance = gr.JSON(label="Provenance")
            with gr.Row():
                export_button = gr.Button("Export report (zip)", elem_id=f"{engine_name}-export")
                report_file = gr.File(label="Report bundle", interactive=False, height=90,
                                      elem_id=f"{engine_name}-report")

    outputs = [overlay_image, outline_image, mask_image, maps, verdict, provenance, provenance_line,
               explanation_box, evidence, explanation, withheld_box, withheld]
    controls = [state, opacity, cmap, threshold, width]
    slider_inputs = [state, slider_choice, opacity, cmap, threshold, width]

    def analyse_stream(path: str | None, chosen: str, weights_choice: str, opacity_value: float, colormap: str,
                       outline_width: float) -> Iterator[dict]:
        task = Task(f"{cls.title} ({chosen})", lambda step: run_engine(engine_name, path, chosen, weights_choice, step))
        try:
            for line in task.statuses():
                yield {status: line}
            result = task.result()
        except Exception as error:
            yield {status: failed_line(task.title, error)}
            raise
        finally:
            task.cancel()
        own = result.analysis.threshold
        view = (opacity_value, colormap, own, outline_width)
        pairs, caption = views.copy_move_view(result.image.rgb, result.analysis)
        yield {state: result, status: task.finished_line(), threshold: own,
               pairs_image: gr.update(value=pairs, label=caption, visible=pairs is not None),
               lens: heatmap_record(result.analysis),
               **dict(zip(outputs, render(result, *view), strict=True)),
               slider_choice: gr.update(choices=slider_choices(result), value=HEATMAP_CHOICE),
               slider: slider_view(result, HEATMAP_CHOICE, *view)}

    run_with_stop(analyse, stop, status, cls.title, analyse_stream,
                  [picker.source, profile, weights, opacity, cmap, width],
                  [state, threshold, *outputs, slider_choice, slider, pairs_image, lens])
    for control in (opacity, cmap, threshold, width):
        control.change(render, controls, outputs, show_progress="hidden")
        control.change(slider_view, slider_inputs, slider, show_progress="hidden")
    slider_choice.change(slider_view, slider_inputs, slider, show_progress="hidden")
    profile_inputs = [gr.State(engine_name), profile, weights]
    for trigger in (profile.change, refresh.click):
        trigger(lambda p: weights_update(engine_name, p), profile, weights)
    weights.change(profile_state, profile_inputs, [availability, analyse])
    profile.change(profile_state, profile_inputs, [availability, analyse])
    for picture in (overlay_image, outline_image):
        picture.select(read_pixel, [state, threshold], readout, show_progress="hidden")
    export_button.click(export, state, report_file)
