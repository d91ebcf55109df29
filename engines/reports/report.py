"""A report bundle for one analysed image: PNG pictures, raw maps, JSON and an HTML page that
prints cleanly to PDF.

The record carries what an evidence file needs: the analysed file's SHA-256 and size, the UTC
time, the app's version and commit, the verdict in words with the engine's measured reliability
(`engines.verdict`), how verdict, class, mask and explanation relate (`engines.consistency`), the
engine's reading guide, and the provenance of the computation.
"""

from __future__ import annotations

import datetime
import html
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engines.catalog import engine_class
from engines.consistency import reconcile
from engines.evaluation.evaluate import git_commit
from engines.data.imageio import LoadedImage
from engines.reports.map_legend import evidence_picture
from engines.reports.render import colorize, mask_image, mask_outline, overlay, with_colour_bar
from engines.result import Analysis
from engines.verdict import analysis_verdict

PACKAGE = "forgery-workbench"
PRINT_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}"
    "figure{display:inline-block;margin:.5em;vertical-align:top;max-width:360px}"
    "figure img{max-width:100%;height:auto}figcaption{font-size:.9em}"
    ".verdict{border:2px solid #333;padding:.5em 1em}dt{font-weight:bold}"
    "pre{white-space:pre-wrap;word-break:break-all;font-size:.8em}"
    "@media print{body{margin:0;max-width:none}figure{break-inside:avoid}h2{break-after:avoid}"
    ".verdict{break-inside:avoid}}"
)


def app_identity() -> dict[str, str]:
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"name": PACKAGE, "version": version, "commit": git_commit()}


def report_record(image: LoadedImage, analysis: Analysis) -> dict[str, Any]:
    """The JSON record of one analysis (no pixels)."""
    verdict = analysis_verdict(analysis)
    threshold = analysis.threshold
    reading = reconcile(analysis, verdict, threshold)
    return {
        "input": {"source": image.source, "sha256": image.sha256, "file_bytes": image.file_bytes},
        "generated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "app": app_identity(),
        "verdict": verdict.to_dict(),
        "reading": {"notes": list(reading.notes), "explanation_is_finding": reading.explanation_is_finding,
                    "explanation_withheld_because": reading.withheld_because or None},
        "reading_guide": engine_class(analysis.provenance.engine).reading_guide,
        "image": image.facts(),
        **analysis.summary(),
    }


def _save_png(array: np.ndarray, path: Path) -> None:
    Image.fromarray(array).save(path)


def write_report(image: LoadedImage, analysis: Analysis, out_dir: Path, stem: str) -> dict[str, Path]:
    """Write `<stem>_*.png`, `<stem>_maps.npz`, `<stem>.json` and `<stem>.html` into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = analysis.provenance.engine
    files = {
        "overlay": out_dir / f"{stem}_{engine}_overlay.png",
        "heatmap": out_dir / f"{stem}_{engine}_heatmap.png",
        "mask": out_dir / f"{stem}_{engine}_mask.png",
        "outline": out_dir / f"{stem}_{engine}_outline.png",
        "maps": out_dir / f"{stem}_{engine}_maps.npz",
        "json": out_dir / f"{stem}_{engine}.json",
        "html": out_dir / f"{stem}_{engine}.html",
    }
    scale = "manipulation probability per pixel"
    _save_png(with_colour_bar(overlay(image.rgb, analysis.heatmap), "inferno", title=scale), files["overlay"])
    _save_png(with_colour_bar(colorize(analysis.heatmap), "inferno", title=scale), files["heatmap"])
    _save_png(mask_image(analysis.mask), files["mask"])
    _save_png(mask_outline(image.rgb, analysis.mask), files["outline"])
    figures = [("Heatmap overlay (opacity follows the value)", files["overlay"]), ("Mask outline", files["outline"]),
               ("Heatmap (0–1)", files["heatmap"]), ("Binary mask", files["mask"])]
    map_files = {}
    for name, values in analysis.maps.items():
        map_files[name] = out_dir / f"{stem}_{engine}_map_{name}.png"
        picture, caption = evidence_picture(name, values)
        _save_png(picture, map_files[name])
        figures.append((f"Evidence map: {caption}", map_files[name]))
    np.savez_compressed(files["maps"], heatmap=analysis.heatmap, mask=analysis.mask, **analysis.maps)
    record = report_record(image, analysis)
    files["json"].write_text(json.dumps(record, indent=2, default=str))
    files["html"].write_text(_html_page(stem, record, figures))
    return {**files, **{f"map_{k}": v for k, v in map_files.items()}}


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(line.strip())}</p>" for line in text.splitlines() if line.strip())


def _html_page(stem: str, record: dict, figures: list[tuple[str, Path]]) -> str:
    verdict, reading = record["verdict"], record["reading"]
    reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in verdict["reasons"])
    notes = "".join(f"<p>{html.escape(note)}</p>" for note in reading["notes"])
    explanation = ""
    if record.get("text"):
        label = (f"<p><b>Class (the method's classifier):</b> {html.escape(record['label'])}</p>"
                 if record.get("label") else "")
        withheld = reading["explanation_withheld_because"]
        heading = "Written explanation" + (f" — withheld as a finding: {html.escape(withheld)}" if withheld else "")
        explanation = f"<h2>{heading}</h2>{label}{_paragraphs(record['text'])}"
    cells = "\n".join(
        f'<figure><img src="{html.escape(path.name)}" alt="{html.escape(title)}"><figcaption>{html.escape(title)}'
        "</figcaption></figure>" for title, path in figures)
    source = record["input"]
    app = record["app"]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(stem)}</title>"
        f"<style>{PRINT_CSS}</style></head><body>"
        f"<h1>{html.escape(stem)} — {html.escape(record['provenance']['engine'])}</h1>"
        f"<div class='verdict'><h2>{html.escape(verdict['headline'])}</h2>"
        f"<p>{html.escape(verdict['score_words'])}</p>{f'<ul>{reasons}</ul>' if reasons else ''}"
        f"<p><b>Reliability:</b> {html.escape(verdict['reliability'])}</p>{notes}</div>"
        "<h2>Analysed file</h2><dl>"
        f"<dt>File</dt><dd>{html.escape(str(source['source']))} ({source['file_bytes']} bytes)</dd>"
        f"<dt>SHA-256</dt><dd><code>{html.escape(str(source['sha256']))}</code></dd>"
        f"<dt>Report written (UTC)</dt><dd>{html.escape(record['generated_utc'])}</dd>"
        f"<dt>Application</dt><dd>{html.escape(app['name'])} {html.escape(app['version'])}, commit "
        f"<code>{html.escape(app['commit'])}</code></dd></dl>"
        f"{explanation}<h2>Pictures</h2>{cells}"
        f"<h2>How to read this</h2>{_paragraphs(record['reading_guide'])}"
        "<h2>Record (scores, evidence, provenance)</h2>"
        f"<pre>{html.escape(json.dumps(record, indent=2, default=str))}</pre>"
        "</body></html>"
    )
