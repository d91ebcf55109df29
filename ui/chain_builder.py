"""Widgets that build a post-processing chain (`engines.data.perturb.Chain`) step by step."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines.data.perturb import PRESETS, Chain, Perturbation
from ui.messages import user_errors

NO_PRESET = "none"
ORDER_NOTE = ("Steps run top to bottom: resize, blur, noise, gamma, JPEG, then the social-network "
              "preset (an approximation of an upload's re-encoding, see engines/data/perturb.py).")


@dataclass
class ChainControls:
    components: list[gr.components.Component]
    """In the order `chain_from_values` reads them."""


def build_chain_controls(prefix: str) -> ChainControls:
    gr.Markdown(ORDER_NOTE)
    with gr.Row():
        resize_on = gr.Checkbox(label="Resize", value=False, elem_id=f"{prefix}-resize-on")
        resize = gr.Slider(0.1, 2.0, value=0.5, step=0.05, label="scale")
    with gr.Row():
        blur_on = gr.Checkbox(label="Gaussian blur", value=False)
        blur = gr.Slider(0.3, 5.0, value=1.0, step=0.1, label="σ (px)")
    with gr.Row():
        noise_on = gr.Checkbox(label="Gaussian noise", value=False)
        noise = gr.Slider(0.5, 30.0, value=5.0, step=0.5, label="σ (0–255)")
    with gr.Row():
        gamma_on = gr.Checkbox(label="Gamma", value=False)
        gamma = gr.Slider(0.3, 3.0, value=1.2, step=0.05, label="g (>1 darkens)")
    with gr.Row():
        jpeg_on = gr.Checkbox(label="JPEG", value=True, elem_id=f"{prefix}-jpeg-on")
        jpeg = gr.Slider(10, 100, value=70, step=1, label="quality", elem_id=f"{prefix}-jpeg-quality")
    preset = gr.Dropdown([NO_PRESET] + sorted(PRESETS), value=NO_PRESET, label="Social-network preset")
    return ChainControls([resize_on, resize, blur_on, blur, noise_on, noise, gamma_on, gamma, jpeg_on, jpeg, preset])


def chain_from_values(resize_on: bool, resize: float, blur_on: bool, blur: float, noise_on: bool,
                      noise: float, gamma_on: bool, gamma: float, jpeg_on: bool, jpeg: float,
                      preset: str) -> Chain:
    steps = []
    with user_errors():
        if resize_on:
            steps.append(Perturbation("resize", {"scale": resize}))
        if blur_on:
            steps.append(Perturbation("blur", {"sigma": blur}))
        if noise_on:
            steps.append(Perturbation("noise", {"sigma": noise}))
        if gamma_on:
            steps.append(Perturbation("gamma", {"g": gamma}))
        if jpeg_on:
            steps.append(Perturbation("jpeg", {"quality": int(jpeg)}))
        if preset and preset != NO_PRESET:
            steps.append(Perturbation("preset", {"name": preset}))
    if not steps:
        raise gr.Error("Turn on at least one post-processing step.")
    return Chain(tuple(steps))
