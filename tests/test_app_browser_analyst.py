"""What an analyst relies on, checked in headless Debian Chromium on real CASIA v1 images: the
verdict with its measured reliability, progress within a second of a click, colour bars, galleries
that keep each image's aspect ratio, a magnifier in sync across every picture with a hover
readout, profiles without weights shown disabled, the file-forensics panel, and a report whose
JSON holds the analysed file's SHA-256."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engines.catalog import engine_class, engine_names
from engines.settings import get_settings
from engines.verdict import INCONCLUSIVE, LIKELY_MANIPULATED, NO_EVIDENCE
from browser import served_app

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CASIA = get_settings().benchmarks_dir / "casia1"
AUTHENTIC = CASIA / "authentic" / "Au_ani_0001.jpg"
TAMPERED = CASIA / "tampered" / "Sp_D_CNN_A_ani0049_ani0084_0266.jpg"
WAIT = 120_000
"""Milliseconds to wait for a result (the machine may be busy)."""
VERDICT_HEADLINES = [band.capitalize() for band in (LIKELY_MANIPULATED, INCONCLUSIVE, NO_EVIDENCE)]
"""Classic is calibrated (assets/classic/calibration.json) and measured (assets/reliability.json)
above chance, so it must give one of the three verdicts, never withhold one."""
NATURAL_SIZE = "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
ASPECT_OF_RENDERED = """async img => {
    await img.decode();
    const style = getComputedStyle(img);
    const box = img.clientWidth / img.clientHeight, natural = img.naturalWidth / img.naturalHeight;
    return {fit: style.objectFit, box, natural};
}"""
CONTENT_BOX = """img => {
    const rect = img.getBoundingClientRect();
    let scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
    if (getComputedStyle(img).objectFit === "scale-down") scale = Math.min(scale, 1);
    const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
    return {left: rect.left + (rect.width - width) / 2 + window.scrollX,
            top: rect.top + (rect.height - height) / 2 + window.scrollY, width};
}"""
LENS_CENTRES = """lenses => lenses.map(lens => {
    const rect = lens.getBoundingClientRect();
    return [rect.left + rect.width / 2 + window.scrollX, rect.top + rect.height / 2 + window.scrollY];
})"""


@pytest.fixture(scope="module")
def app_url():
    if not AUTHENTIC.is_file() or not TAMPERED.is_file():
        pytest.skip("the CASIA v1 benchmark is not in ../shared")
    with served_app() as url:
        yield url


def _screenshot(page, name: str) -> None:
    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _open(browser, app_url: str, tab: str | None = None):
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.goto(app_url)
    if tab:
        page.get_by_role("tab", name=tab, exact=True).click()
    return page


def _seconds_to_progress(page, button: str, status: str, text: str) -> float:
    """Seconds, measured in the page, from clicking `button` to `status` showing `text`."""
    return page.evaluate("""async ([button, status, text]) => {
        const started = performance.now();
        document.getElementById(button).click();
        while (!(document.getElementById(status)?.innerText || "").includes(text)) {
            await new Promise(resolve => setTimeout(resolve, 10));
        }
        return (performance.now() - started) / 1000;
    }""", [button, status, text])


def _assert_magnifier_in_sync(page, across: float, down: float) -> None:
    """Hovering the overlay at (across, down) of the image (in image widths) puts a lens on that
    spot of the overlay, the outline, the copy-move pairs, the binary mask, the image and every
    evidence map, and reads the heatmap value that a click reads on the server."""
    overlay = page.locator("#classic-overlay img")
    overlay.scroll_into_view_if_needed()
    box = overlay.evaluate(CONTENT_BOX)
    x, y = box["left"] + across * box["width"], box["top"] + down * box["width"]
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    page.mouse.move(x - scroll[0] - 3, y - scroll[1] - 3)
    page.mouse.move(x - scroll[0], y - scroll[1])
    readout = page.locator("#classic-lens .lens-readout")
    expect(readout).to_contain_text("heatmap", timeout=10_000)
    hovered = float(readout.inner_text().rsplit(" ", 1)[1])
    centres = page.locator(".classic-lens").evaluate_all(LENS_CENTRES)
    pictures = ["#classic-preview img", "#classic-overlay img", "#classic-outline img", "#classic-pairs img",
                "#classic-mask img", "#classic-maps img"]
    expected = [(b["left"] + across * b["width"], b["top"] + down * b["width"])
                for selector in pictures for b in page.locator(selector).evaluate_all(f"all => all.map({CONTENT_BOX})")]
    assert len(centres) == len(expected) >= 5
    for point in expected:
        assert any(abs(point[0] - cx) < 2 and abs(point[1] - cy) < 2 for cx, cy in centres), (point, centres)
    page.mouse.click(x - scroll[0], y - scroll[1])
    exact = page.locator("#classic-readout")
    expect(exact).to_contain_text("heatmap", timeout=WAIT)
    assert abs(float(exact.inner_text().split("heatmap ")[1].split()[0]) - hovered) <= 0.01


def _assert_not_cropped(page, selector: str) -> None:
    images = page.locator(selector)
    assert images.count() > 0
    for index in range(images.count()):
        shown = images.nth(index).evaluate(ASPECT_OF_RENDERED)
        assert shown["fit"] in ("contain", "scale-down") or abs(shown["box"] - shown["natural"]) < 0.02, shown


@pytest.mark.parametrize(("image", "name"), [(AUTHENTIC, "authentic"), (TAMPERED, "tampered")])
def test_inspect_gives_a_verdict_with_reliability_progress_colour_bar_and_report(app_url, browser, image, name,
                                                                                tmp_path):
    page = _open(browser, app_url)
    page.locator("#classic-upload input[type=file]").set_input_files(str(image))
    page.locator("#classic-preview img").wait_for(timeout=WAIT)
    summary = page.locator("#classic-file-summary")
    summary.get_by_text("SHA-256").wait_for(timeout=WAIT)
    assert hashlib.sha256(image.read_bytes()).hexdigest() in summary.inner_text()
    assert "JPEG:" in summary.inner_text()

    assert _seconds_to_progress(page, "classic-analyse", "classic-status", "Classic forensics") < 1.0
    verdict = page.locator("#classic-verdict")
    verdict.get_by_text("Measured reliability").wait_for(timeout=WAIT)
    text = verdict.inner_text()
    assert text.splitlines()[0] in VERDICT_HEADLINES
    assert "calibrated probability of manipulation" in text.lower() and 'it called "likely manipulated"' in text
    expect(page.locator("#classic-analyse")).to_be_enabled(timeout=WAIT)  # enabled again once done

    width, height = page.locator("#classic-overlay img").evaluate(NATURAL_SIZE)
    assert width == 384 and height > 256  # the colour bar underneath
    page.locator("#classic-maps img").first.wait_for(timeout=WAIT)
    _assert_not_cropped(page, "#classic-maps img")

    page.locator("#classic-export").click()
    link = page.locator("#classic-report a[download$='_report.zip']")
    link.wait_for(timeout=WAIT)
    with page.expect_download() as download:
        link.click()
    archive = zipfile.ZipFile(download.value.path())
    record = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("_classic.json"))))
    assert record["input"]["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert record["verdict"]["headline"] in text
    _assert_magnifier_in_sync(page, 0.42, 0.45)
    _screenshot(page, f"inspect-classic-{name}")
    if name == "tampered" and os.environ.get("SAVE_SCREENSHOTS"):
        page.locator("#classic-file").screenshot(path=str(SCREENSHOTS / "file-forensics.png"))
    page.close()


def test_a_profile_without_weights_is_shown_disabled_with_how_to_get_them(app_url, browser):
    page = _open(browser, app_url, engine_class("clue").title)
    page.locator("#clue-profile input").click()
    page.get_by_role("option", name="full — weights not on this machine").click()
    note = page.locator("#clue-availability")
    note.get_by_text("cannot run here").wait_for(timeout=WAIT)
    assert page.locator("#clue-analyse").is_disabled()
    note.locator("summary").click()
    assert "python -m engines train --engine clue --profile full" in note.locator("details").inner_text()
    page.close()


def test_compare_fills_in_method_by_method_without_cropping(app_url, browser):
    page = _open(browser, app_url, "Compare")
    page.locator("#compare-upload input[type=file]").set_input_files(str(TAMPERED))
    page.locator("#compare-preview img").wait_for(timeout=WAIT)
    mask = CASIA / "masks" / f"{TAMPERED.stem}.png"
    page.locator("#compare-gt input[type=file]").set_input_files(str(mask))
    assert _seconds_to_progress(page, "compare-run", "compare-status", "Compare") < 1.0
    expect(page.locator("#compare-run")).to_be_disabled(timeout=10_000)  # while the methods run
    page.locator("#compare-heatmaps img").first.wait_for(timeout=4 * WAIT)
    page.locator("#compare-status").get_by_text("methods compared").wait_for(timeout=10 * WAIT)
    _assert_not_cropped(page, "#compare-heatmaps img")
    cells = page.locator("#compare-table div[role=row]", has_text="Classic forensics").first.locator(
        "[role=gridcell]").all_inner_texts()
    assert cells[1] in VERDICT_HEADLINES and all(len(c.split(".")[-1]) <= 3 for c in cells[2:8] if c.replace(".", "").isdigit())
    _screenshot(page, "compare")
    page.close()


def test_robustness_gallery_keeps_aspect_ratio_and_sweep_legend_is_outside(app_url, browser):
    page = _open(browser, app_url, "Robustness lab")
    page.locator("#robust-upload input[type=file]").set_input_files(str(TAMPERED))
    page.locator("#robust-preview img").wait_for(timeout=WAIT)
    assert _seconds_to_progress(page, "robust-apply", "robust-apply-status", "Robustness") < 1.0
    page.locator("#robust-gallery img").nth(2).wait_for(timeout=WAIT)
    _assert_not_cropped(page, "#robust-gallery img")
    _screenshot(page, "robustness")
    page.get_by_role("tab", name="Intensity sweep").click()
    page.locator("#robust-sweep").click()
    page.locator("#robust-plot img").wait_for(timeout=WAIT)
    _screenshot(page, "robustness-sweep")
    page.close()


def test_compare_can_be_stopped_between_methods(app_url, browser):
    page = _open(browser, app_url, "Compare")
    page.locator("#compare-upload input[type=file]").set_input_files(str(AUTHENTIC))
    page.locator("#compare-preview img").wait_for(timeout=WAIT)
    page.locator("#compare-run").click()
    page.locator("#compare-heatmaps img").first.wait_for(timeout=4 * WAIT)
    page.locator("#compare-stop").click()
    page.locator("#compare-status").get_by_text("stopped").wait_for(timeout=WAIT)
    expect(page.locator("#compare-run")).to_be_enabled(timeout=WAIT)
    shown = page.locator("#compare-heatmaps img").count()
    page.wait_for_timeout(15_000)  # longer than the next method takes: it must not arrive
    assert page.locator("#compare-heatmaps img").count() == shown < len(engine_names())
    page.close()
