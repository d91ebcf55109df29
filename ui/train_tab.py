"""Train: pick a trainable engine and a dataset (or generate one with the forge), set the main
hyper-parameters, start / stop / resume in a background job, and watch progress and the loss curve.
"""

from __future__ import annotations

import datetime
import os

import gradio as gr
import pandas as pd

from engines.catalog import engine_class
from engines.engine import MAIN_STAGE
from engines.training.checkpoints import has_checkpoint
from engines.errors import WorkbenchError
from engines.forge.config import ForgeConfig
from engines.forge.pipeline import ForgeReport, generate_dataset
from engines.data.paths import check_input_dir, check_output_dir
from engines.training.runs import trainable_engine_names
from engines.settings import get_settings
from engines.training.loop import TrainProgress
from engines.method_config import apply_overrides
from engines.training.job import TrainOutcome, TrainRequest, run_training
from ui import views
from ui.gradio_files import upload_folder
from ui.jobs import FINISHED, IDLE, BackgroundJob, JobContext, JobSnapshot, SessionJobs
from ui.messages import info, user_errors

HISTORY_HEADERS = ["epoch", "loss", "val_f1", "val_iou", "minutes"]
FORGE_WORKERS = max(1, min(4, (os.cpu_count() or 2) // 2))


def default_run_folder(engine: str | None, profile: str | None) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(get_settings().runs_dir / f"{engine or 'run'}-{profile or 'default'}-{stamp}")


def profile_update(engine: str | None) -> tuple[dict, dict, str]:
    """Profile and stage choices of the chosen engine, and a fresh run folder for it."""
    if not engine:
        return gr.update(choices=[], value=None), gr.update(choices=[MAIN_STAGE], value=MAIN_STAGE), ""
    cls = engine_class(engine)
    profile = cls.default_profile
    return (gr.update(choices=list(cls.profiles), value=profile), gr.update(**stage_choices(engine)),
            default_run_folder(engine, profile))


def stage_choices(engine: str | None) -> dict:
    """The Stage selector of an engine: its stages in the order they are run, each explained."""
    cls = engine_class(engine) if engine else None
    stages = {s.name: s for s in cls.stages} if cls else {}
    labels = [(f"{name}: {stages[name].summary} (data: {stages[name].data})" if name in stages
               else f"{name}: the main training", name) for name in (cls.stage_names() if cls else [MAIN_STAGE])]
    return {"choices": labels, "value": MAIN_STAGE}


def _train_work(request: TrainRequest):
    def work(context: JobContext) -> TrainOutcome:
        def preparing(done: int, total: int) -> None:
            context.report(done, total, f"preparing (caching features) {done}/{total}")
            context.publish(phase="preparing")

        def progress(state: TrainProgress) -> None:
            context.report(len(state.history), state.epochs,
                           f"epoch {state.epoch + 1}/{state.epochs} · step {state.step} · loss {state.loss:.4f}")
            context.append("losses", {"step": state.step, "loss": state.loss})
            context.publish(phase="training", history=list(state.history))

        outcome = run_training(request, preparing=preparing, progress=progress, should_stop=context.should_stop)
        context.publish(history=outcome.history)
        return outcome

    return work


def start_training(job: BackgroundJob, engine: str | None, profile: str | None, data_text: str, out_text: str,
                   epochs: float, lr: float, batch_size: float, seed: float, init_shipped: bool,
                   overrides_text: str, stage: str | None = MAIN_STAGE, init_text: str = "", *,
                   resume: bool) -> tuple[str, gr.Timer]:
    """Check the inputs, then train in the background; `resume` continues the run folder's checkpoint."""
    if not engine:
        raise gr.Error("Choose an engine to train.")
    if None in (epochs, lr, batch_size, seed):
        raise gr.Error("Fill in the epochs, learning rate, batch size and seed.")
    with user_errors():
        data = check_input_dir(data_text, "dataset folder", allow_file=True, extra_roots=[upload_folder()])
        out = check_output_dir(out_text, "run folder")
        init = check_input_dir(init_text, "initial weights file", allow_file=True) if (init_text or "").strip() else None
        if resume and not has_checkpoint(out):
            raise WorkbenchError(f"There is no checkpoint to resume in {out}. Press Start to begin a new run there.")
        if not resume and has_checkpoint(out):
            raise WorkbenchError(
                f"{out} already holds a run. Press Resume to continue it, or choose another run folder.")
        changes = tuple(line.strip() for line in (overrides_text or "").splitlines() if line.strip())
        cls = engine_class(engine)
        cls.check_stage(stage or MAIN_STAGE)
        apply_overrides(cls.profiles[profile or cls.default_profile], changes)
        request = TrainRequest(engine=engine, profile=profile, data=data, out_dir=out, epochs=int(epochs), lr=float(lr),
                               batch_size=int(batch_size), seed=int(seed), init_from_shipped=bool(init_shipped),
                               init_weights=init, resume=bool(resume), overrides=changes,
                               stage=stage or MAIN_STAGE)
        verb = "resuming" if resume else "training"
        stage_words = "" if request.stage == MAIN_STAGE else f", stage {request.stage}"
        job.start(f"{verb} {engine_class(engine).title} ({request.profile}{stage_words}) on {data.name}", _train_work(request),
                  kind="train", out=str(out))
    return f"Started: {'resuming' if resume else 'new run in'} `{out}`.", gr.Timer(active=True)


def start_forge(job: BackgroundJob, photos_text: str, out_text: str, n: float, size: float,
                seed: float) -> tuple[str, gr.Timer]:
    if None in (n, size, seed):
        raise gr.Error("Fill in the number of samples, their size and the seed.")
    with user_errors():
        photos = check_input_dir(photos_text, "photo folder")
        out = check_output_dir(out_text, "dataset output folder")
        config = ForgeConfig(size_range=(max(64, int(size) // 2), int(size)), seed=int(seed))

    def work(context: JobContext) -> ForgeReport:
        def progress(done: int, total: int) -> None:
            if context.should_stop():
                raise WorkbenchError(f"Generation stopped after {done} samples; {out} holds a partial "
                                     "dataset without index.json: generate again into another folder.")
            context.report(done, total, f"forged {done}/{total}")

        return generate_dataset(photos, out, int(n), config, workers=FORGE_WORKERS, progress=progress)

    with user_errors():
        job.start(f"generating {int(n)} forgeries into {out.name}", work, kind="forge", out=str(out))
    return f"Generating a dataset in `{out}`…", gr.Timer(active=True)


def stop(job: BackgroundJob) -> str:
    if job.stop():
        info("Stop requested: the job stops at its next step and keeps what it has done.")
        return "Stopping…"
    return "Nothing is running."


def _status_text(snap: JobSnapshot) -> str:
    text = f"**{snap.description}** — {snap.state} · {snap.message} · {snap.seconds:.0f} s"
    if snap.state in ("finished", "stopped") and isinstance(snap.result, TrainOutcome):
        text += (f"\n\nWeights: `{snap.result.weights}` ({snap.result.epochs_done} epochs). Choose them in "
                 "Inspect → Weights (press ↻ there).")
    elif snap.state == "finished" and snap.data.get("kind") == "forge":
        text += f"\n\n{snap.result.summary()}\n\nThe dataset path was filled in below."
    return text


def _progress(snap: JobSnapshot) -> str:
    """While training: epochs done; once the job ended: "done" (full bar), "stopped" or the error."""
    if snap.state == FINISHED:
        return views.progress_html(1.0, "done")
    if snap.running and snap.data.get("kind") == "train" and snap.data.get("phase") == "training":
        return views.progress_html(snap.fraction, f"epochs done: {snap.done}/{snap.total}")
    return views.progress_html(snap.fraction, snap.message)


def poll(job: BackgroundJob, shown_id: int):
    """Outputs: progress bar, status, loss curve, epoch table, timer, dataset path, shown job id."""
    snap = job.snapshot()
    if snap.state == IDLE:
        return "", "Nothing has run yet.", None, [], gr.Timer(active=False), gr.update(), shown_id
    losses = snap.data.get("losses") or []
    curve = pd.DataFrame(losses) if losses else None
    history = [[round(row.get(key), 4) if isinstance(row.get(key), float) else row.get(key)
                for key in HISTORY_HEADERS] for row in snap.data.get("history", [])]
    dataset = gr.update()
    if not snap.running and snap.job_id != shown_id:
        if snap.state == "finished" and snap.data.get("kind") == "forge":
            dataset = snap.data["out"]
        shown_id = snap.job_id
    return (_progress(snap), _status_text(snap), curve, history, gr.Timer(active=snap.running), dataset, shown_id)


def build_train_tab(app: gr.Blocks) -> SessionJobs:
    """Lays out the tab; returns its jobs (one training or generation at a time per browser session)."""
    jobs = SessionJobs("training")
    settings = get_settings()
    names = trainable_engine_names()
    first = names[0] if names else None
    shown = gr.State(0)
    timer = gr.Timer(1.0, active=False)
    with gr.Row():
        with gr.Column(scale=1):
            engine = gr.Dropdown([(engine_class(n).title, n) for n in names], value=first, label="Engine",
                                 info="Only engines with something to train are listed.", elem_id="train-engine")
            profile = gr.Dropdown(list(engine_class(first).profiles) if first else [],
                                  value=engine_class(first).default_profile if first else None, label="Profile")
            stage = gr.Dropdown(**stage_choices(first), label="Stage", elem_id="train-stage",
                                info="Methods trained in stages: DiffForensics pretrains on photos first; "
                                     "IFDL-VLM's explainer trains on top of stage-1 weights (initial weights).")
            data = gr.Textbox(label="Dataset folder (index.json, or tampered/ masks/ authentic/)",
                              placeholder=str(settings.runs_dir / "datasets" / "forge"), elem_id="train-data")
            with gr.Accordion("…or generate one with the forge (synthetic forgeries of your photos)", open=False):
                photos = gr.Textbox(str(settings.photos_dir), label="Photo folder")
                forge_out = gr.Textbox(str(settings.runs_dir / "datasets" / "forge"), label="New dataset folder")
                with gr.Row():
                    n_samples = gr.Number(200, precision=0, minimum=1, label="Samples")
                    size = gr.Number(256, precision=0, minimum=64, label="Largest side (px)",
                                     info="forge v2 crops at the photo's own grid, half to full this side")
                    forge_seed = gr.Number(0, precision=0, label="Seed")
                generate = gr.Button("Generate dataset")
            with gr.Row():
                epochs = gr.Number(10, precision=0, minimum=1, label="Epochs")
                lr = gr.Number(1e-3, minimum=0, label="Learning rate")
            with gr.Row():
                batch_size = gr.Number(8, precision=0, minimum=1, label="Batch size")
                seed = gr.Number(0, precision=0, label="Seed")
            init_shipped = gr.Checkbox(False, label="Start from the shipped weights (adapt them to this data)")
            init_weights = gr.Textbox(label="…or start from these weights (optional: e.g. an earlier stage's "
                                            "weights.safetensors)", elem_id="train-init")
            overrides = gr.Textbox(label="Configuration changes (KEY=VALUE, one a line; optional)", lines=2,
                                   placeholder="perturbation.streams=blur,jpeg", elem_id="train-overrides")
            out = gr.Textbox(default_run_folder(first, profile.value), label="Run folder (checkpoints and weights)",
                             elem_id="train-out")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="train-start")
                resume = gr.Button("Resume", elem_id="train-resume")
                stop_button = gr.Button("Stop", variant="stop", elem_id="train-stop")
        with gr.Column(scale=2):
            progress = gr.HTML(elem_id="train-progress")
            status = gr.Markdown("Nothing has run yet.", elem_id="train-status")
            curve = gr.LinePlot(x="step", y="loss", title="Training loss per step", height=300, elem_id="train-curve")
            history = gr.Dataframe(headers=HISTORY_HEADERS, label="Per epoch (validation on held-out samples)",
                                   interactive=False)

    hyper = [engine, profile, data, out, epochs, lr, batch_size, seed, init_shipped, overrides, stage, init_weights]
    engine.change(profile_update, engine, [profile, stage, out])
    profile.change(default_run_folder, [engine, profile], out)

    def start_own(request: gr.Request, *values):
        return start_training(jobs.of(request.session_hash), *values, resume=False)

    def resume_own(request: gr.Request, *values):
        return start_training(jobs.of(request.session_hash), *values, resume=True)

    def forge_own(request: gr.Request, *values):
        return start_forge(jobs.of(request.session_hash), *values)

    def stop_own(request: gr.Request) -> str:
        return stop(jobs.of(request.session_hash))

    def poll_own(request: gr.Request, shown_id: int):
        return poll(jobs.of(request.session_hash), shown_id)

    def end_session(request: gr.Request) -> None:
        """A closed page stops its training at the next step; the checkpoint lets Resume go on."""
        jobs.end(request.session_hash)

    start.click(start_own, hyper, [status, timer])
    resume.click(resume_own, hyper, [status, timer])
    generate.click(forge_own, [photos, forge_out, n_samples, size, forge_seed], [status, timer])
    stop_button.click(stop_own, None, status, concurrency_limit=None)
    poll_outputs = [progress, status, curve, history, timer, data, shown]
    timer.tick(poll_own, shown, poll_outputs, concurrency_limit=None, show_progress="hidden")
    app.load(poll_own, shown, poll_outputs, concurrency_limit=None)
    app.unload(end_session)
    return jobs
