"""Builds the whole Gradio app from its tabs (every engine list comes from the catalogue)."""

from __future__ import annotations

import gradio as gr

from engines.catalog import engine_class, engine_names
from ui.batch_panel import build_batch_panel
from ui.compare_tab import build_compare_tab
from ui.evaluate_tab import build_evaluate_tab
from ui.gradio_files import write_output_images_once
from ui.heavy_work import return_freed_memory
from ui.inspect_tab import build_inspect_panel
from ui.limits import CACHE_CLEANING
from ui.models_tab import build_models_tab, tables
from ui.robustness_tab import build_robustness_tab
from ui.train_tab import build_train_tab

TITLE = "Forgery analyst workbench"


def build_app() -> gr.Blocks:
    write_output_images_once()
    with gr.Blocks(title=TITLE, delete_cache=CACHE_CLEANING) as app:
        gr.Markdown(f"# {TITLE}\nFind and explain edited regions in an image.")
        with gr.Tabs():
            with gr.Tab("Inspect", id="inspect"):
                with gr.Tabs():
                    for name in engine_names():
                        with gr.Tab(engine_class(name).title, id=f"inspect-{name}"):
                            build_inspect_panel(name)
            with gr.Tab("Compare", id="compare"):
                build_compare_tab()
            with gr.Tab("Robustness lab", id="robustness"):
                build_robustness_tab()
            with gr.Tab("Train", id="train"):
                build_train_tab(app)
            with gr.Tab("Evaluate", id="evaluate"):
                build_evaluate_tab(app)
                build_batch_panel(app)
            with gr.Tab("Models", id="models") as models:
                _, model_tables = build_models_tab()
        models.select(tables, None, model_tables)

        def release_session(request: gr.Request) -> None:
            """Free a closed page's images and analyses now (Gradio would keep them an hour)."""
            app.state_holder.delete_state(request.session_hash)
            return_freed_memory()

        app.unload(release_session)
    return app
