"""Builds the whole Gradio app from its tabs."""

from __future__ import annotations

import gradio as gr

from engines.catalog import engine_class, engine_names
from ui.inspect_tab import build_inspect_panel

TITLE = "Forgery analyst workbench"


def build_app() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\nFind and explain edited regions in an image.")
        with gr.Tabs():
            with gr.Tab("Inspect"):
                with gr.Tabs():
                    for name in engine_names():
                        with gr.Tab(engine_class(name).title, id=f"inspect-{name}"):
                            build_inspect_panel(name)
    return app
