"""Starts the real app and drives it in headless Debian Chromium through playwright."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from engines.catalog import engine_class, engine_names
from engines.training.runs import trainable_engine_names
from engines.settings import get_settings
from browser import served_app
from synthetic_data import write_dataset

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
EXAMPLES = get_settings().assets_dir / "examples"
WAIT = 60_000
"""Milliseconds to wait for a result (the machine may be busy)."""


@pytest.fixture(scope="module")
def app_url():
    with served_app() as url:
        yield url


def test_classic_inspect_shows_overlay_and_score(app_url, browser, spliced_image, tmp_path):
    rgb, _ = spliced_image
    image_path = tmp_path / "spliced.png"
    Image.fromarray(rgb).save(image_path)

    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.locator("#classic-upload input[type=file]").set_input_files(str(image_path))
    page.locator("#classic-preview img").wait_for(timeout=30_000)
    page.locator("#classic-analyse").click()
    verdict = page.locator("#classic-verdict")
    verdict.get_by_text("Measured reliability").wait_for(timeout=60_000)
    overlay = page.locator("#classic-overlay img")
    overlay.wait_for(timeout=30_000)
    width = overlay.evaluate("img => img.naturalWidth")
    height = overlay.evaluate("img => img.naturalHeight")
    assert width == rgb.shape[1] and height > rgb.shape[0]  # the colour bar under the overlay
    page.locator("#classic-provenance").get_by_text("device").wait_for(timeout=WAIT)
    page.locator("#classic-export").click()
    page.locator("#classic-report a[download$='_report.zip']").wait_for(timeout=WAIT)
    page.close()


def test_classic_inspect_shows_copy_move_pairs_over_the_image(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(app_url)
    page.locator("#classic-upload input[type=file]").set_input_files(str(EXAMPLES / "copy_move.jpg"))
    page.locator("#classic-preview img").wait_for(timeout=WAIT)
    page.locator("#classic-analyse").click()
    pairs = page.locator("#classic-pairs img")
    pairs.wait_for(timeout=2 * WAIT)
    assert pairs.evaluate("img => img.naturalWidth") == 384
    assert "Copy-move pairs: 1 found" in page.locator("#classic-pairs").inner_text()
    _screenshot(page, "classic-copy-move")
    page.close()


@pytest.mark.parametrize("engine_name", ["detective_sam", "clue", "diffforensics", "ifdl_vlm"])
def test_trained_engine_tab_shows_overlay_evidence_maps_and_explanation(app_url, browser, engine_name):
    """Each method's own tab, with its shipped weights, on the bundled example."""
    if engine_name not in engine_names() or not engine_class(engine_name).shipped_weights("compact").is_file():
        pytest.skip(f"{engine_name} has no shipped weights here")
    page = _open_tab(browser, app_url, engine_class(engine_name).title)
    page.locator(f"#{engine_name}-upload input[type=file]").set_input_files(str(EXAMPLES / "spliced.jpg"))
    page.locator(f"#{engine_name}-preview img").wait_for(timeout=WAIT)
    page.locator(f"#{engine_name}-analyse").click()
    overlay = page.locator(f"#{engine_name}-overlay img")
    overlay.wait_for(timeout=3 * WAIT)
    assert overlay.evaluate("img => img.naturalWidth") == 384
    assert "Measured reliability" in page.locator(f"#{engine_name}-verdict").inner_text()
    if engine_name == "ifdl_vlm":
        explanation = page.locator(f"#{engine_name}-explanation")
        explanation.get_by_text("Class (the method's classifier)").wait_for(timeout=WAIT)
        written = explanation.inner_text()
        if "withheld as a finding" in written:  # the reason is shown; the text is one click away
            assert len(written.split("withheld as a finding: ")[1].split()) > 3
            page.get_by_text("Written explanation (withheld as a finding)").click()
            written = page.locator(f"#{engine_name}-withheld").inner_text()
        assert len(written.split()) > 20
    else:
        page.locator(f"#{engine_name}-maps img").first.wait_for(timeout=WAIT)
    _screenshot(page, f"inspect-{engine_name}")
    page.close()


def _screenshot(page, name: str) -> None:
    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _open_tab(browser, app_url: str, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(app_url)
    page.get_by_role("tab", name=name, exact=True).click()
    return page


def _row(page, table_id: str, text: str):
    """The visible data row of a gr.Dataframe that contains `text` (waits for it)."""
    row = page.locator(f"#{table_id} div[role=row]", has_text=text).first
    row.wait_for(timeout=WAIT)
    return row


def _toast(page, text: str) -> str:
    """The text of the message box that says `text` (waits for it)."""
    toast = page.locator(".toast-body", has_text=text).first
    toast.wait_for(timeout=WAIT)
    return toast.inner_text()


def test_inspect_example_click_fills_the_image(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(app_url)
    page.get_by_role("button", name="spliced.jpg").first.click()
    preview = page.locator("#classic-preview img")
    preview.wait_for(timeout=WAIT)
    assert preview.evaluate("img => img.naturalWidth") == 384
    page.close()


def test_compare_shows_every_method_and_scores_against_the_truth(app_url, browser, tmp_path):
    page = _open_tab(browser, app_url, "Compare")
    page.locator("#compare-upload input[type=file]").set_input_files(str(EXAMPLES / "spliced.jpg"))
    page.locator("#compare-preview img").wait_for(timeout=WAIT)
    page.locator("#compare-gt input[type=file]").set_input_files(str(EXAMPLES / "spliced_mask.png"))
    page.locator("#compare-run").click()
    cells = _row(page, "compare-table", "Classic forensics").locator("[role=gridcell]").all_inner_texts()
    score, f1, iou = float(cells[2]), float(cells[5]), float(cells[6])
    assert 0 <= iou <= f1 <= 1 and 0 <= score <= 1
    page.locator("#compare-heatmaps img").first.wait_for(timeout=WAIT)
    small = tmp_path / "small_mask.png"
    cv2.imwrite(str(small), np.zeros((10, 20), np.uint8))
    page.locator("#compare-gt button[aria-label='Clear']").click()
    page.locator("#compare-gt input[type=file]").set_input_files(str(small))
    assert "a mask must have exactly its image's size" in _toast(page, "20×10")
    page.close()


def test_robustness_lab_before_after_and_sweep_plot(app_url, browser):
    page = _open_tab(browser, app_url, "Robustness lab")
    page.locator("#robust-upload input[type=file]").set_input_files(str(EXAMPLES / "spliced.jpg"))
    page.locator("#robust-preview img").wait_for(timeout=WAIT)
    page.locator("#robust-apply").click()
    page.locator("#robust-perturbed img").wait_for(timeout=WAIT)
    page.locator("#robust-gallery img").nth(2).wait_for(timeout=WAIT)
    assert _row(page, "robust-table", "Classic forensics").locator("[role=gridcell]").count() == 8
    page.get_by_role("tab", name="Intensity sweep").click()
    page.locator("#robust-sweep").click()
    plot = page.locator("#robust-plot img")
    plot.wait_for(timeout=WAIT)
    assert plot.evaluate("img => img.naturalWidth") > 300
    assert _row(page, "robust-points", "clean").locator("[role=gridcell]").all_inner_texts()[0] == "Classic forensics"
    page.close()


def test_train_tab_offers_trainable_engines_and_checks_paths(app_url, browser):
    page = _open_tab(browser, app_url, "Train")
    engine = page.locator("#train-engine input")
    engine.wait_for(timeout=WAIT)
    assert engine.input_value() == engine_class(trainable_engine_names()[0]).title
    page.locator("#train-data textarea").fill("/usr/share")
    page.locator("#train-start").click()
    assert "outside the folders this workbench may read" in _toast(page, "/usr/share")
    assert page.locator("#train-status").get_by_text("Nothing has run yet").count() == 1
    _screenshot(page, "train")
    page.close()


def test_evaluate_tab_runs_a_dataset_and_browses_the_worst_images(app_url, browser, tmp_path, monkeypatch):
    monkeypatch.setenv("FORGERY_DATA_ROOTS", str(tmp_path))  # a folder the app may read (engines.data.paths)
    monkeypatch.setenv("FORGERY_RUNS", str(tmp_path / "runs"))
    get_settings.cache_clear()
    data = write_dataset(tmp_path / "tiny", n_tampered=2, n_authentic=1)
    page = _open_tab(browser, app_url, "Evaluate")
    page.locator("#eval-path textarea").fill(str(data))
    page.locator("#eval-run").click()
    cells = _row(page, "eval-table", "classic").locator("[role=gridcell]").all_inner_texts()
    assert cells[:2] == ["classic", "none"] and 0 <= float(cells[2]) <= 1
    page.locator("#eval-csv a[download='tiny_metrics.csv']").wait_for(timeout=WAIT)
    page.locator("#eval-worst img").first.wait_for(timeout=WAIT)
    assert page.locator("#eval-worst img").count() == 2
    page.locator("#eval-worst img").first.click()
    case = page.locator("#eval-case-heatmap img")
    case.wait_for(timeout=WAIT)
    assert case.evaluate("img => img.naturalWidth") == 128
    _screenshot(page, "evaluate")
    page.close()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_models_tab_loads_an_engine(app_url, browser):
    page = _open_tab(browser, app_url, "Models")
    _row(page, "models-engines", "training-free")
    page.locator("#models-load").click()
    _toast(page, "is loaded on")
    page.wait_for_timeout(500)
    assert "true" in _row(page, "models-engines", "training-free").inner_text().lower()
    _row(page, "models-store", "lite_medsam")
    _screenshot(page, "models")
    page.close()
