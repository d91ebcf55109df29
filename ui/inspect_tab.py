"""Inspect: one panel per engine — upload, analyse, and read the heatmap, mask, score and maps."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from engines.catalog import engine_class, get_engine
from engines.errors import WorkbenchError
from engines.imageio import LoadedImage, load_image
from engines.render import COLORMAPS
from engines.result import Analysis
from ui import views


@dataclass
class InspectState:
    image: LoadedImage
    analysis: Analysis


def _load(path: str) -> LoadedImage:
    try:
        return load_image(path)
    except WorkbenchError as exc:
        raise gr.Error(str(exc)) from None


def show_upload(path: str | None) -> tuple[np.ndarray | None, dict | None]:
    if not path:
        return None, None
    image = _load(path)
    return image.rgb, image.facts()


def run_engine(engine_name: str, path: str | None, profile: str) -> InspectState:
    """Analyse the uploaded file itself (its original bytes, not the preview's re-encoding)."""
    if not path:
        raise gr.Error("Upload an image first.")
    image = _load(path)
    try:
        analysis = get_engine(engine_name, profile).analyze(image)
    except WorkbenchError as exc:
        raise gr.Error(str(exc)) from None
    return InspectState(image=image, analysis=analysis)


def render(state: InspectState | None, opacity: float, cmap: str, threshold: float):
    if state is None:
        return None, None, None, [], "", None
    rgb, analysis = state.image.rgb, state.analysis
    return (
        views.overlay_view(rgb, analysis, opacity, cmap),
        views.mask_view(rgb, analysis, threshold),
        views.binary_mask_view(analysis, threshold),
        views.evidence_gallery(analysis, cmap),
        views.score_text(analysis, threshold),
        views.provenance_record(analysis),
    )


def build_inspect_panel(engine_name: str) -> None:
    cls = engine_class(engine_name)
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(label="Image (original bytes are analysed)", file_types=["image"],
                             elem_id=f"{engine_name}-upload")
            preview = gr.Image(label="Image", interactive=False, format="png",
                               elem_id=f"{engine_name}-preview")
            facts = gr.JSON(label="File facts")
            profile = gr.Dropdown(list(cls.profiles), value=cls.default_profile, label="Profile")
            analyse = gr.Button("Analyse", variant="primary", elem_id=f"{engine_name}-analyse")
            with gr.Accordion("How to read this", open=False):
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
            mask_image = gr.Image(label="Binary mask", interactive=False, format="png")
            maps = gr.Gallery(label="Evidence maps", columns=4, height="auto", format="png")
            provenance = gr.JSON(label="Provenance")

    outputs = [overlay_image, outline_image, mask_image, maps, score, provenance]
    controls = [state, opacity, cmap, threshold]
    upload.change(show_upload, upload, [preview, facts])
    analyse.click(lambda path, p: run_engine(engine_name, path, p), [upload, profile], state).then(
        render, controls, outputs
    )
    for control in (opacity, cmap, threshold):
        control.change(render, controls, outputs)
