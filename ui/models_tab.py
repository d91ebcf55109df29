"""Models: every engine × profile (weights, device, loaded state, size) with load / unload, and the
model store's status of every named weight."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
import pandas as pd

from engines.catalog import engine_class, engine_names
from engines.store.status import engine_rows, load, store_rows, unload
from ui.messages import info, user_errors
from ui.progress import ignore_step, run_with_stop, streamed_task

STORE_COLUMNS = ["name", "present", "source", "size_mb", "license", "path", "problem"]


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    store = pd.DataFrame(store_rows())
    return pd.DataFrame(engine_rows()), store[[c for c in STORE_COLUMNS if c in store.columns]]


def profiles_update(engine: str) -> dict:
    cls = engine_class(engine)
    return gr.update(choices=list(cls.profiles), value=cls.default_profile)


def load_model(engine: str, profile: str,
               step: Callable[[str], None] = ignore_step) -> tuple[pd.DataFrame, pd.DataFrame]:
    step(f"loading {engine_class(engine).title} ({profile})")
    with user_errors():
        loaded = load(engine, profile)
    info(f"{loaded.title} ({profile}) is loaded on {loaded.device}.")
    return tables()


def unload_model(engine: str, profile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    count = unload(engine, profile)
    info(f"Unloaded {count} instance(s) of {engine_class(engine).title} ({profile}).")
    return tables()


def build_models_tab() -> tuple[gr.Button, list[gr.Dataframe]]:
    """Lays out the tab; returns its refresh button and tables so the app can refresh on select."""
    names = engine_names()
    with gr.Row():
        engine = gr.Dropdown([(engine_class(n).title, n) for n in names], value=names[0], label="Engine",
                             elem_id="models-engine")
        profile = gr.Dropdown(list(engine_class(names[0]).profiles), value=engine_class(names[0]).default_profile,
                              label="Profile")
        load_button = gr.Button("Load", variant="primary", elem_id="models-load")
        load_stop = gr.Button("Stop waiting", variant="stop", interactive=False, elem_id="models-load-stop")
        unload_button = gr.Button("Unload", elem_id="models-unload")
        refresh = gr.Button("Refresh", elem_id="models-refresh")
    engines_table = gr.Dataframe(label="Engines × profiles (parameters are counted once loaded)",
                                 interactive=False, elem_id="models-engines")
    status = gr.HTML(elem_id="models-status")
    store_table = gr.Dataframe(label="Model store: every named weight", interactive=False, elem_id="models-store")
    outputs = [engines_table, store_table]
    engine.change(profiles_update, engine, profile)
    run_with_stop(load_button, load_stop, status, "Models", streamed_task("Models", load_model, outputs, status),
                  [engine, profile], outputs, stopped="stopped waiting (a load in progress still completes)")
    unload_button.click(unload_model, [engine, profile], outputs)
    refresh.click(tables, None, outputs)
    return refresh, outputs
