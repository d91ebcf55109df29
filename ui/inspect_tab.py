"""Inspect: one panel per engine — pick an image, analyse it, read the heatmap, mask, score, maps,
explanation and provenance, and download the report."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines.catalog import engine_class, get_engine
from engines.imageio import LoadedImage
from engines.render import COLORMAPS
from engines.result import Analysis
from engines.runs import is_trainable
from ui import views
from ui.export import export_report
from ui.image_input import add_examples, build_image_input, load_source
from ui.messages import user_errors
from ui.weights import DEFAULT_WEIGHTS, weights_choices, weights_path, weights_update


@dataclass
class InspectState:
    image: LoadedImage
    analysis: Analysis


def run_engine(engine_name: str, path: str | None, profile: str, weights: str | None = None) -> InspectState:
    """Analyse the chosen file itself (its original bytes, not the preview's re-encoding)."""
    image = load_source(path)
    with user_errors():
        analysis = get_engine(engine_name, profile, weights=weights_path(weights)).analyze(image)
    return InspectState(image=image, analysis=analysis)


def render(state: InspectState | None, opacity: float, cmap: str, threshold: float) -> tuple:
    """Outputs, in order: overlay, outline, binary mask, evidence maps, score, provenance record,
    provenance line, explanation box visibility, evidence, explanation."""
    if state is None:
        return None, None, None, [], "", None, "", gr.update(visible=False), None, ""
    rgb, analysis = state.image.rgb, state.analysis
    explanation = views.explanation_markdown(analysis)
    return (
        views.overlay_view(rgb, analysis, opacity, cmap),
        views.mask_view(rgb, analysis, threshold),
        views.binary_mask_view(analysis, threshold),
        views.evidence_gallery(analysis, cmap),
        views.score_text(analysis, threshold),
        views.provenance_record(analysis),
        views.provenance_markdown(analysis),
        gr.update(visible=bool(explanation or analysis.evidence)),
        analysis.evidence or None,
        explanation,
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
            profile = gr.Dropdown(list(cls.profiles), value=cls.default_profile, label="Profile")
            with gr.Row(visible=trainable):
                weights = gr.Dropdown(weights_choices(engine_name, cls.default_profile), value=DEFAULT_WEIGHTS,
                                      label="Weights", scale=4, elem_id=f"{engine_name}-weights")
                refresh = gr.Button("↻", scale=0, min_width=40)
            analyse = gr.Button("Analyse", variant="primary", elem_id=f"{engine_name}-analyse")
            with gr.Accordion("How to read this / what to ignore", open=True):
                gr.Markdown(cls.reading_guide)
        with gr.Column(scale=2):
            score = gr.Markdown(elem_id=f"{engine_name}-score")
            with gr.Row():
                opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Overlay opacity")
                cmap = gr.Dropdown(list(COLORMAPS), value=COLORMAPS[0], label="Colormap")
                threshold = gr.Slider(0.0, 1.0, value=cls.threshold, step=0.01, label="Mask threshold")
            with gr.Row():
                overlay_image = gr.Image(label="Heatmap overlay", interactive=False, format="png",
                                         elem_id=f"{engine_name}-overlay")
                outline_image = gr.Image(label="Mask outline", interactive=False, format="png")
            with gr.Group(visible=False) as explanation_box:
                explanation = gr.Markdown(elem_id=f"{engine_name}-explanation")
                evidence = gr.JSON(label="Evidence: the measured numbers behind the result")
            mask_image = gr.Image(label="Binary mask", interactive=False, format="png", elem_id=f"{engine_name}-mask")
            maps = gr.Gallery(label="Evidence maps (each scaled to 0–1)", columns=4, rows=1, height=260,
                              object_fit="contain", format="png", elem_id=f"{engine_name}-maps")
            provenance_line = gr.Markdown(elem_id=f"{engine_name}-provenance")
            with gr.Accordion("Provenance record", open=False):
                provenance = gr.JSON(label="Provenance")
            with gr.Row():
                export_button = gr.Button("Export report (zip)", elem_id=f"{engine_name}-export")
                report_file = gr.File(label="Report bundle", interactive=False, height=90,
                                      elem_id=f"{engine_name}-report")

    outputs = [overlay_image, outline_image, mask_image, maps, score, provenance, provenance_line,
               explanation_box, evidence, explanation]
    controls = [state, opacity, cmap, threshold]
    analyse.click(
        lambda path, p, w: run_engine(engine_name, path, p, w), [picker.source, profile, weights], state
    ).then(render, controls, outputs)
    for control in (opacity, cmap, threshold):
        control.change(render, controls, outputs)
    for trigger in (profile.change, refresh.click):
        trigger(lambda p: weights_update(engine_name, p), profile, weights)
    export_button.click(export, state, report_file)
