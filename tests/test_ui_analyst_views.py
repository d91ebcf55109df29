"""What an analyst reads in the GUI, called without a browser: the verdict with its reliability,
the status line of long actions, profiles without weights, the file-forensics panel, and the
Train tab's progress at the end of a run."""

from __future__ import annotations

import base64
import json
import threading
import time

import cv2

import numpy as np
import pytest

from engines.result import Analysis, Provenance
from engines.settings import get_settings
from engines.verdict import NOT_RELIABLE_HEADLINE
from ui import compare_tab, inspect_tab, train_tab
from ui.file_panel import FLAG, panel_values
from ui.image_input import choose
from ui.jobs import BackgroundJob
from ui.magnifier import MAX_SIDE, heatmap_record
from ui.profiles import MISSING_SUFFIX, can_run, profile_choices, profile_state
from ui.progress import Cancelled, Task
from ui.weights import DEFAULT_WEIGHTS

EXAMPLES = get_settings().assets_dir / "examples"
SPLICED = str(EXAMPLES / "spliced.jpg")


def test_inspect_shows_the_verdict_with_reliability_and_maps_with_scales():
    state = inspect_tab.run_engine("classic", SPLICED, "compact", DEFAULT_WEIGHTS)
    overlay, outline, mask, maps, verdict, *_ = inspect_tab.render(state, 0.6, "inferno", 0.5, 3)
    assert verdict.startswith(f"### {state.verdict.headline}") and "**Measured reliability.**" in verdict
    assert overlay.shape[1] == 384 and overlay.shape[0] > 288  # the colour bar under the overlay
    assert outline.shape == (288, 384, 3) and mask.shape == (288, 384)
    assert maps["visible"] and all("scale" in caption or "range" in caption for _, caption in maps["value"])
    assert {"error level: change when re-saved as JPEG"} <= {caption.split(" (")[0] for _, caption in maps["value"]}
    before, after = inspect_tab.slider_view(state, "ela", 0.6, "inferno", 0.5, 3)
    assert before.shape == after.shape == (288, 384, 3)


def test_an_unreliable_engine_withholds_a_contradicting_explanation():
    image = inspect_tab.load_source(SPLICED)
    analysis = Analysis(heatmap=np.zeros((288, 384), np.float32), mask=np.zeros((288, 384), bool), score=0.89,
                        provenance=Provenance("ifdl_vlm", "compact", "cpu"), label="tampered",
                        text="Type: none.\nThe image appears authentic.",
                        evidence={"class_probabilities": {"real": 0.1, "fully synthetic": 0.1, "tampered": 0.8}})
    state = inspect_tab.InspectState(image, analysis, inspect_tab.analysis_verdict(analysis))
    outputs = inspect_tab.render(state, 0.6, "inferno", 0.5, 3)
    maps, verdict, evidence, explanation, withheld_box, withheld = (outputs[i] for i in (3, 4, 8, 9, 10, 11))
    assert maps["visible"] is False and "classifier's raw outputs, not the calibrated image score" in evidence["label"]
    assert verdict.startswith(f"### {NOT_RELIABLE_HEADLINE}") and "not calibrated" in verdict
    assert "appears authentic" not in explanation and "**Class (the method's classifier):** tampered" in explanation
    assert "withheld as a finding: the method's detection is not reliable enough" in explanation
    assert withheld_box["visible"] and withheld.startswith("*Withheld as a finding") and "appears authentic" in withheld


def test_task_streams_its_step_and_elapsed_time_and_stops_at_the_next_step():
    started = threading.Event()

    def work(step):
        step("loading the model")
        started.set()
        while True:
            time.sleep(0.05)
            step("analysing")

    task = Task("Test engine", work)
    started.wait(5)
    first = next(task.statuses())
    assert "Test engine — " in first and " s</span>" in first
    task.cancel()
    with pytest.raises(Cancelled, match="stopped"):
        task.result()
    quick = Task("Quick", lambda step: 42)
    assert list(quick.statuses()) and quick.result() == 42 and "✓ Quick — done" in quick.finished_line()


def test_compare_fills_in_method_by_method():
    state = compare_tab.CompareState(image=compare_tab.load_source(SPLICED))
    compare_tab.analyse_one(state, "classic")
    heatmaps, outlines, table = compare_tab.render(state, None, 0.5, "inferno")
    assert len(heatmaps) == 1 and heatmaps[0][0].shape[0] > 288  # each heatmap carries its colour bar
    assert table[0][:2] == ["Classic forensics", state.verdicts["classic"].headline]
    assert all(len(str(v).split(".")[-1]) <= 3 for v in table[0] if isinstance(v, float))


def test_a_profile_without_weights_is_marked_and_cannot_be_run():
    labels = dict((value, label) for label, value in profile_choices("clue"))
    assert labels["compact"] == "compact" and labels["full"] == "full" + MISSING_SUFFIX
    note, button = profile_state("clue", "full", DEFAULT_WEIGHTS)
    assert button["interactive"] is False and "<details>" in note and "python -m engines train --engine clue" in note
    assert note.count("<p>") == 1  # one plain sentence; the commands are in the details box
    assert profile_state("clue", "compact", DEFAULT_WEIGHTS) == ("", {"interactive": True, "__type__": "update"})
    assert can_run("clue", "full", "/runs/my-run/weights.safetensors")


def test_choosing_a_file_fills_the_file_forensics_panel():
    source, preview, facts, summary, thumbnail, tags, tables = choose(SPLICED)
    assert source == SPLICED and preview.shape == (288, 384, 3) and facts["jpeg_quality"] == 90
    assert facts["sha256"] in summary and "JPEG: quality 90 (standard IJG tables) · baseline" in summary
    assert f"{FLAG} No EXIF metadata" in summary
    assert thumbnail == {"value": None, "visible": False, "__type__": "update"} and tags["visible"] is False
    assert len(tables["0"]) == 8
    assert choose(None) == [None, None, None, *panel_values(None)]


def test_train_progress_ends_at_done():
    job = BackgroundJob("training")
    job.start("training", lambda context: (context.publish(kind="train", phase="training"),
                                           context.report(1, 2, "epoch 1/2")), kind="train")
    job.wait(5)
    progress, *_ = train_tab.poll(job, 0)
    assert "<div>done</div>" in progress and "value='100.0'" in progress


def test_clicking_a_picture_reads_the_values_at_that_pixel():
    heatmap = np.zeros((20, 30), np.float32)
    heatmap[5, 7] = 0.75
    analysis = Analysis(heatmap=heatmap, mask=heatmap > 0.5, score=0.5, provenance=Provenance("x", "compact", "cpu"),
                        maps={"ela": heatmap / 3})
    assert inspect_tab.views.pixel_readout(analysis, 7, 5, 0.5) == (
        "**At x 7, y 5:** heatmap 0.750 (inside the mask at 0.50) · ela 0.250")
    assert "outside the image" in inspect_tab.views.pixel_readout(analysis, 7, 25, 0.5)


def _decoded(record: str) -> tuple[dict, np.ndarray]:
    data = json.loads(record)
    png = base64.b64decode(data["src"].split(",", 1)[1])
    return data, cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)


def test_the_magnifier_reads_the_heatmap_from_an_8_bit_copy_of_it():
    heatmap = np.random.default_rng(0).random((20, 30), dtype=np.float32)
    analysis = Analysis(heatmap=heatmap, mask=heatmap > 0.5, score=0.5, provenance=Provenance("x", "compact", "cpu"))
    data, values = _decoded(heatmap_record(analysis))
    assert (data["width"], data["height"]) == (30, 20) and values.shape == (20, 30)
    assert np.abs(values / 255 - heatmap).max() <= 0.5 / 255 + 1e-6


def test_the_magnifier_copy_of_a_large_heatmap_is_at_most_max_side():
    heatmap = np.zeros((1500, 3000), np.float32)
    heatmap[:, 1500:] = 1.0
    analysis = Analysis(heatmap=heatmap, mask=heatmap > 0.5, score=0.5, provenance=Provenance("x", "compact", "cpu"))
    data, values = _decoded(heatmap_record(analysis))
    assert (data["width"], data["height"]) == (3000, 1500) and values.shape == (MAX_SIDE // 2, MAX_SIDE)
    assert values[:, 0].max() == 0 and values[:, -1].min() == 255
