"""The GUI's callbacks called directly (no browser): what each tab computes and the messages it gives."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import pytest

from engines.training.checkpoints import has_checkpoint
from engines.device import best_device
from engines.errors import WorkbenchError
from engines.data.paths import DATA_ROOTS_VARIABLE
from engines.result import Analysis, Provenance
from engines.training.runs import WEIGHTS_FILE, write_run_record
from engines.settings import get_settings
from synthetic_data import write_dataset
from ui import compare_tab, evaluate_tab, inspect_tab, models_tab, robustness_tab, train_tab
from ui.chain_builder import chain_from_values
from ui.image_input import choose, example_images, example_mask
from ui.jobs import FAILED, FINISHED, STOPPED, BackgroundJob
from ui.messages import user_errors
from ui.weights import DEFAULT_WEIGHTS, weights_choices, weights_path

EXAMPLES = get_settings().assets_dir / "examples"
SPLICED, SPLICED_MASK = str(EXAMPLES / "spliced.jpg"), str(EXAMPLES / "spliced_mask.png")
JPEG_ONLY = (False, 0.5, False, 1.0, False, 5.0, False, 1.2, True, 60, "none")
"""Chain-builder values: only JPEG at quality 60."""


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """settings.runs_dir pointed at a fresh folder for one test."""
    monkeypatch.setenv("FORGERY_RUNS", str(tmp_path / "runs"))
    get_settings.cache_clear()
    yield get_settings().runs_dir
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def tmp_path_is_a_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' datasets live in tmp_path, which the workbench may then read (engines.data.paths)."""
    monkeypatch.setenv(DATA_ROOTS_VARIABLE, str(tmp_path))


# ---- shared pieces ---------------------------------------------------------------------------


def test_workbench_errors_become_gradio_messages():
    with pytest.raises(gr.Error, match="be helpful"):
        with user_errors():
            raise WorkbenchError("be helpful")
    with pytest.raises(KeyError):
        with user_errors():
            raise KeyError("bugs are not hidden")


def test_examples_are_listed_with_their_masks_and_a_pick_shows_its_facts():
    names = [p.name for p in example_images()]
    assert names == ["authentic.jpg", "copy_move.jpg", "spliced.jpg"]
    assert example_mask(EXAMPLES / "spliced.jpg") == EXAMPLES / "spliced_mask.png"
    assert example_mask(EXAMPLES / "authentic.jpg") is None
    source, preview, facts, *file_panel = choose(SPLICED)
    assert source == SPLICED and preview.shape == (288, 384, 3) and facts["jpeg_quality"] == 90
    assert "quality 90" in file_panel[0]
    assert choose(None)[:3] == [None, None, None]


def test_jobs_run_in_the_background_one_at_a_time_and_stop_on_request():
    job = BackgroundJob("training")
    release = threading.Event()

    def work(context):
        context.report(1, 4, "first step")
        context.append("losses", 0.5)
        while not context.should_stop():
            release.wait(0.01)
        return "kept"

    job.start("a long job", work)
    with pytest.raises(WorkbenchError, match="busy with 'a long job'"):
        job.start("another", work)
    assert job.stop()
    snap = job.wait(5)
    assert (snap.state, snap.result, snap.data["losses"], snap.fraction) == (STOPPED, "kept", [0.5], 0.25)
    assert not job.stop()


def test_job_failures_are_messages_not_tracebacks():
    job = BackgroundJob("evaluation")
    job.start("fails", lambda context: (_ for _ in ()).throw(WorkbenchError("dataset is empty")))
    assert (job.wait(5).state, job.snapshot().error) == (FAILED, "dataset is empty")
    job.start("bug", lambda context: 1 / 0)
    snap = job.wait(5)
    assert snap.state == FAILED and snap.error.startswith("Unexpected error (ZeroDivisionError")
    job.start("fine", lambda context: 42)
    assert (job.wait(5).state, job.snapshot().result, job.snapshot().job_id) == (FINISHED, 42, 3)


# ---- Inspect ---------------------------------------------------------------------------------


def test_inspect_analyses_renders_and_exports_a_report():
    state = inspect_tab.run_engine("classic", SPLICED, "compact", DEFAULT_WEIGHTS)
    overlay, outline, mask, maps, verdict, record, line, box, evidence, explanation, _, _ = inspect_tab.render(
        state, 0.5, "jet", 0.3, 2)
    assert overlay.shape[1] == 384 and outline.shape == (288, 384, 3) and mask.shape == (288, 384)
    assert {caption.split(" (")[0] for _, caption in maps["value"]} >= {
        "error level: change when re-saved as JPEG", "noise residual: fine texture, not evidence by itself",
        "local noise level unlike the rest of the image", "JPEG ghost: region once saved at another quality"}
    assert "Measured reliability" in verdict and "threshold 0.30" in verdict
    assert record["engine"] == "classic" and f"device `{best_device()}`" in line
    assert box["visible"] is True and "mask_fraction" in evidence["value"] and explanation == ""
    archive = Path(inspect_tab.export(state))
    assert "spliced_classic.html" in zipfile.ZipFile(archive).namelist()


def test_inspect_shows_an_explanation_and_its_evidence_when_the_engine_gives_one():
    image = inspect_tab.load_source(SPLICED)
    analysis = Analysis(heatmap=np.zeros((288, 384), np.float32), mask=np.zeros((288, 384), bool), score=0.9,
                        provenance=Provenance("ifdl_vlm", "compact", "cpu"), label="splicing",
                        text="The pasted blob has its own noise.", evidence={"area": 0.1})
    state = inspect_tab.InspectState(image, analysis, inspect_tab.analysis_verdict(analysis))
    box, evidence, explanation, withheld_box, withheld = inspect_tab.render(state, 0.5, "inferno", 0.5, 2)[7:]
    assert box["visible"] is True and evidence["value"] == {"area": 0.1}
    assert "**Class (the method's classifier):** splicing" in explanation
    assert withheld_box["visible"] and "own noise" in withheld  # no verdict: the text is not a finding


def test_inspect_messages_for_no_image_and_for_missing_weights(tmp_path: Path):
    with pytest.raises(gr.Error, match="Upload, paste or pick"):
        inspect_tab.run_engine("classic", None, "compact")
    with pytest.raises(gr.Error, match="No trained Detective SAM weights"):
        inspect_tab.run_engine("detective_sam", SPLICED, "compact", str(tmp_path / "missing.safetensors"))
    with pytest.raises(gr.Error, match="Analyse an image first"):
        inspect_tab.export(None)


def test_weights_selector_lists_trained_runs_of_the_engine_and_profile(runs_dir: Path):
    assert weights_choices("detective_sam", "compact")[1:] == []
    folder = runs_dir / "my-run"
    write_run_record(folder, "detective_sam", "compact", "/data/forge", {})
    (folder / WEIGHTS_FILE).write_bytes(b"x")
    write_run_record(runs_dir / "other", "detective_sam", "full", "/data/forge", {})
    (runs_dir / "other" / WEIGHTS_FILE).write_bytes(b"x")
    choices = weights_choices("detective_sam", "compact")
    assert choices[0][1] == DEFAULT_WEIGHTS
    assert choices[1:] == [("run my-run (0 epochs, forge)", str(folder / WEIGHTS_FILE))]
    assert weights_path(DEFAULT_WEIGHTS) is None and weights_path(choices[1][1]) == str(folder / WEIGHTS_FILE)


# ---- Compare -----------------------------------------------------------------------------------


def test_compare_puts_methods_side_by_side_with_scores_against_the_truth():
    state = compare_tab.analyse_all(SPLICED, ["classic"])
    heatmaps, outlines, table = compare_tab.render(state, SPLICED_MASK, 0.5, "inferno")
    assert len(heatmaps) == 1 and heatmaps[0][1].startswith("Classic forensics · ")
    assert [caption for _, caption in outlines][-1] == "ground truth"
    method, verdict, score, calibrated, area, f1, iou, seconds, note = table[0]
    assert method == "Classic forensics" and 0 <= f1 <= 1 and 0 <= iou <= f1 and note == ""
    assert verdict == state.verdicts["classic"].headline
    assert compare_tab.render(state, None, 0.5, "inferno")[2][0][5] is None


def test_compare_refuses_a_mask_of_the_wrong_size(tmp_path: Path):
    state = compare_tab.analyse_all(SPLICED, ["classic"])
    small = tmp_path / "small_mask.png"
    cv2.imwrite(str(small), np.zeros((10, 20), np.uint8))
    with pytest.raises(gr.Error, match="20×10 pixels but its image is 384×288"):
        compare_tab.render(state, str(small), 0.5, "inferno")


def test_compare_reports_a_failing_method_and_keeps_the_others(monkeypatch: pytest.MonkeyPatch):
    real = compare_tab.get_engine

    def engine_or_failure(name):
        if name == "detective_sam":
            raise WorkbenchError("No trained Detective SAM adapters at assets/...\nTrain them first.")
        return real(name)

    monkeypatch.setattr(compare_tab, "get_engine", engine_or_failure)
    with pytest.warns(UserWarning, match="Detective SAM: No trained"):
        state = compare_tab.analyse_all(SPLICED, ["classic", "detective_sam"])
    table = compare_tab.comparison_table(state, None, 0.5)
    assert [row[0] for row in table] == ["Classic forensics", "Detective SAM"]
    assert table[1][-1] == "No trained Detective SAM adapters at assets/..."
    with pytest.raises(gr.Error, match="Tick at least one"):
        compare_tab.analyse_all(SPLICED, [])


# ---- Robustness lab -----------------------------------------------------------------------------


def test_chain_builder_orders_steps_and_needs_one():
    chain = chain_from_values(True, 0.5, False, 1.0, True, 4.0, False, 1.2, True, 70, "whatsapp")
    assert [step.kind for step in chain.steps] == ["resize", "noise", "jpeg", "preset"]
    with pytest.raises(gr.Error, match="at least one"):
        chain_from_values(False, 0.5, False, 1.0, False, 4.0, False, 1.2, False, 70, "none")


def test_robustness_before_after_and_change_per_method():
    perturbed, gallery, table, chain_text = robustness_tab.apply_chain(
        SPLICED, SPLICED_MASK, ["classic"], 0, *JPEG_ONLY)
    assert perturbed.shape == (288, 384, 3) and "jpeg(quality=60)" in chain_text
    assert [caption.split(" · ")[1] for _, caption in gallery] == ["before", "after", "change (blue lost, red gained)"]
    row = dict(zip(robustness_tab.COMPARISON_HEADERS, table[0]))
    assert row["Δ score"] == pytest.approx(row["perturbed score"] - row["clean score"], abs=2e-3)  # each to 3 decimals
    assert 0 <= row["clean F1"] <= 1 and 0 <= row["perturbed F1"] <= 1


def test_robustness_sweep_plots_and_tabulates_each_intensity():
    figure, rows = robustness_tab.run_sweep(SPLICED, SPLICED_MASK, ["classic"], "jpeg", "50, 90", 0)
    assert [row[1] for row in rows] == ["clean", 50.0, 90.0]
    assert all(row[3] is not None for row in rows)
    assert [ax.get_title() for ax in figure.axes] == ["image score", "pixel F1", "pixel IoU"]
    assert robustness_tab.default_values("jpeg") == "50, 60, 70, 80, 90, 100"
    with pytest.raises(gr.Error, match="not a number"):
        robustness_tab.run_sweep(SPLICED, None, ["classic"], "jpeg", "50, high", 0)


# ---- Evaluate ------------------------------------------------------------------------------------


def test_evaluate_runs_in_the_background_then_fills_table_exports_and_browser(tmp_path: Path, runs_dir: Path):
    data = write_dataset(tmp_path / "tiny", n_tampered=2, n_authentic=1)
    job = BackgroundJob("evaluation")
    status, timer = evaluate_tab.start_evaluation(job, ["classic"], None, str(data), ["none", "jpeg=70"], "", 0,
                                                  False, 0)
    assert job.wait(60).state == FINISHED
    progress, status, table, runs, csv_path, json_path, outcome, timer, shown = evaluate_tab.poll(job, 0, None)
    assert shown == job.snapshot().job_id and "<progress" in progress
    assert [row[:2] for row in table] == [["classic", "none"], ["classic", "jpeg(quality=70)"]]
    assert Path(csv_path).read_text().startswith("engine,perturbation,pixel_f1")
    assert Path(json_path).is_file() and outcome.json.read_bytes() == Path(json_path).read_bytes()
    assert outcome.csv.parent.parent == runs_dir / "evaluations"
    assert runs["choices"] == ["classic · none", "classic · jpeg(quality=70)"]
    assert evaluate_tab.poll(job, shown, outcome)[2] == gr.update()  # shown once, not on every tick
    worst, best = evaluate_tab.browse(outcome, runs["value"])
    assert len(worst) == len(best) == 2 and worst[0][1].startswith("F1 ")
    heatmap, outlined, caption = evaluate_tab.show_case(outcome, runs["value"], "best", 0)
    assert outlined.shape == (96, 128, 3) and caption.startswith("**t")
    assert heatmap.shape[1] == 128 and heatmap.shape[0] > 96  # the colour bar under the overlay


def test_evaluate_messages_for_bad_choices(tmp_path: Path):
    job = BackgroundJob("evaluation")
    with pytest.raises(gr.Error, match="Choose a benchmark or type"):
        evaluate_tab.start_evaluation(job, ["classic"], None, " ", ["none"], "", 5, False, 0)
    with pytest.raises(gr.Error, match="does not exist"):
        evaluate_tab.start_evaluation(job, ["classic"], None, str(tmp_path / "nope"), ["none"], "", 5, False, 0)
    data = write_dataset(tmp_path / "tiny", n_tampered=1, n_authentic=0)
    with pytest.raises(gr.Error, match="Unknown perturbation 'jpg'"):
        evaluate_tab.start_evaluation(job, ["classic"], None, str(data), ["none"], "jpg=70", 5, False, 0)
    with pytest.raises(gr.Error, match="Tick at least one engine"):
        evaluate_tab.start_evaluation(job, [], None, str(data), ["none"], "", 5, False, 0)
    with pytest.raises(gr.Error, match="number of images"):
        evaluate_tab.start_evaluation(job, ["classic"], None, str(data), ["none"], "", None, False, 0)
    assert evaluate_tab.poll(job, 0, None)[1] == "Nothing has run yet."


def test_benchmark_choices_are_the_folders_of_the_benchmarks_dir():
    root = get_settings().benchmarks_dir
    expected = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    assert [label for label, _ in evaluate_tab.benchmark_choices()] == expected


# ---- Models --------------------------------------------------------------------------------------


def test_models_load_and_unload_change_the_table():
    engines, store = models_tab.load_model("classic", "compact")
    classic = engines[(engines.engine == "classic") & (engines.profile == "compact")].iloc[0]
    assert bool(classic.loaded) and classic.device == str(best_device())
    assert "lite_medsam" in set(store.name)
    engines, _ = models_tab.unload_model("classic", "compact")
    assert not bool(engines[engines.engine == "classic"].iloc[0].loaded)
    update = models_tab.profiles_update("detective_sam")
    assert {"compact", "full"} <= set(update["choices"]) and update["value"] == "compact"


# ---- Train ----------------------------------------------------------------------------------------


def test_train_checks_paths_and_run_folders_before_starting(tmp_path: Path, runs_dir: Path):
    job = BackgroundJob("training")
    args = dict(epochs=1, lr=1e-3, batch_size=2, seed=0, init_shipped=False, overrides_text="")
    with pytest.raises(gr.Error, match="outside the folders"):
        train_tab.start_training(job, "detective_sam", "compact", "/usr/share", str(runs_dir / "r"), resume=False,
                                 **args)
    with pytest.raises(gr.Error, match="does not exist"):
        train_tab.start_training(job, "detective_sam", "compact", str(tmp_path / "nope"), str(runs_dir / "r"),
                                 resume=False, **args)
    data = write_dataset(tmp_path / "tiny", n_tampered=1, n_authentic=0)
    with pytest.raises(gr.Error, match="no checkpoint to resume"):
        train_tab.start_training(job, "detective_sam", "compact", str(data), str(runs_dir / "r"), resume=True, **args)
    with pytest.raises(gr.Error, match="two different perturbed streams"):
        train_tab.start_training(job, "detective_sam", "compact", str(data), str(runs_dir / "r"), resume=False,
                                 **{**args, "overrides_text": "perturbation.streams=blur,blur"})
    with pytest.raises(gr.Error, match="photo folder .* does not exist"):
        train_tab.start_forge(job, str(tmp_path / "no-photos"), str(tmp_path / "out"), 4, 128, 0)
    assert not job.running
    profiles, stages, folder = train_tab.profile_update("detective_sam")
    assert profiles["value"] == "compact" and folder.startswith(str(runs_dir / "detective_sam-compact-"))
    assert [value for _, value in stages["choices"]] == ["train"]
    assert [value for _, value in train_tab.profile_update("diffforensics")[1]["choices"]] == ["pretrain", "train"]
    assert [value for _, value in train_tab.profile_update("ifdl_vlm")[1]["choices"]] == ["train", "explainer"]
    with pytest.raises(gr.Error, match="no training stage 'explainer'.*Known: train"):
        train_tab.start_training(job, "detective_sam", "compact", str(data), str(runs_dir / "r2"), resume=False,
                                 stage="explainer", **args)
    with pytest.raises(gr.Error, match="initial weights file .* does not exist"):
        train_tab.start_training(job, "ifdl_vlm", "compact", str(data), str(runs_dir / "r2"), resume=False,
                                 stage="explainer", init_text=str(runs_dir / "none.safetensors"), **args)


@pytest.mark.slow
def test_train_tab_trains_a_real_engine_and_inspect_lists_the_run(tmp_path: Path, runs_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    from engines.forge.config import ForgeConfig
    from engines.forge.pipeline import generate_dataset
    from engines.store.model_store import get_store
    from engines.data.synthetic import procedural_scene

    backbone = get_store().find("lite_medsam")
    if backbone is None:
        pytest.skip("the LiteMedSAM backbone is not in the model store (python -m engines weights fetch lite_medsam)")
    monkeypatch.setenv("FORGERY_WEIGHT_LITE_MEDSAM", str(backbone))
    monkeypatch.setenv("FORGERY_CACHE", str(tmp_path / "cache"))
    get_settings.cache_clear()
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(3):
        cv2.imwrite(str(photos / f"scene{seed}.png"), cv2.cvtColor(procedural_scene(seed, 160, 200), cv2.COLOR_RGB2BGR))
    data = tmp_path / "forged"
    generate_dataset(photos, data, 6, ForgeConfig(size_range=(128, 160), types=("splice", "copy_move")), workers=1)

    job = BackgroundJob("training")
    out = runs_dir / "tiny-run"
    train_tab.start_training(job, "detective_sam", "compact", str(data), str(out), 1, 1e-3, 4, 0, False, "",
                             resume=False)
    snap = job.wait(120)
    assert snap.state == FINISHED, snap.error
    assert (out / WEIGHTS_FILE).is_file() and has_checkpoint(out)
    progress, status, curve, history, timer, dataset, shown = train_tab.poll(job, 0)
    assert list(curve.columns) == ["step", "loss"] and len(curve) >= 1 and np.isfinite(curve.loss).all()
    assert [row[0] for row in history] == [1] and str(out / WEIGHTS_FILE) in status
    choices = dict((value, label) for label, value in weights_choices("detective_sam", "compact"))
    assert choices[str(out / WEIGHTS_FILE)] == "run tiny-run (1 epoch, forged)"
    state = inspect_tab.run_engine("detective_sam", SPLICED, "compact", str(out / WEIGHTS_FILE))
    assert state.analysis.heatmap.shape == (288, 384) and WEIGHTS_FILE in state.analysis.provenance.weights
