"""A report bundle for one analysed image: PNG overlays, raw maps, JSON and an HTML page."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
from PIL import Image

from engines.imageio import LoadedImage
from engines.render import colorize, mask_image, mask_outline, overlay
from engines.result import Analysis


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
    _save_png(overlay(image.rgb, analysis.heatmap), files["overlay"])
    _save_png(colorize(analysis.heatmap), files["heatmap"])
    _save_png(mask_image(analysis.mask), files["mask"])
    _save_png(mask_outline(image.rgb, analysis.mask), files["outline"])
    map_files = {}
    for name, values in analysis.maps.items():
        map_files[name] = out_dir / f"{stem}_{engine}_map_{name}.png"
        _save_png(colorize(values), map_files[name])
    np.savez_compressed(files["maps"], heatmap=analysis.heatmap, mask=analysis.mask, **analysis.maps)
    record = {"image": image.facts(), **analysis.summary()}
    files["json"].write_text(json.dumps(record, indent=2, default=str))
    files["html"].write_text(_html_page(stem, record, files, map_files))
    return {**files, **{f"map_{k}": v for k, v in map_files.items()}}


def _html_page(stem: str, record: dict, files: dict[str, Path], map_files: dict[str, Path]) -> str:
    figures = [("Heatmap overlay", files["overlay"]), ("Mask outline", files["outline"]),
               ("Heatmap", files["heatmap"]), ("Binary mask", files["mask"])]
    figures += [(f"Evidence map: {name}", path) for name, path in map_files.items()]
    cells = "\n".join(
        f'<figure><img src="{html.escape(path.name)}" width="360"><figcaption>{html.escape(title)}'
        "</figcaption></figure>"
        for title, path in figures
    )
    explanation = f"<h2>Explanation</h2><p>{html.escape(record['text'])}</p>" if record.get("text") else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(stem)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;margin:.5em}</style>"
        f"</head><body><h1>{html.escape(stem)} — {html.escape(record['provenance']['engine'])}</h1>"
        f"<p>Manipulation score: <b>{record['score']:.3f}</b></p>{explanation}{cells}"
        f"<h2>Record</h2><pre>{html.escape(json.dumps(record, indent=2, default=str))}</pre>"
        "</body></html>"
    )
