"""Tiny datasets on disk made from `engines.data.synthetic` scenes, for GUI and evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from engines.reports.render import mask_image
from engines.data.synthetic import procedural_scene, spliced_scene


def write_jpeg(path: Path, rgb, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


def write_dataset(folder: Path, n_tampered: int = 3, n_authentic: int = 1, height: int = 96,
                  width: int = 128) -> Path:
    """An IMDL-BenCo folder: spliced JPEGs with 0/255 PNG masks, authentic JPEGs, index.json."""
    entries = []
    for i in range(n_tampered):
        rgb, mask = spliced_scene(i, height, width)
        write_jpeg(folder / "tampered" / f"t{i}.jpg", rgb)
        (folder / "masks").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / "masks" / f"t{i}.png"), mask_image(mask))
        entries.append([f"tampered/t{i}.jpg", f"masks/t{i}.png"])
    for i in range(n_authentic):
        write_jpeg(folder / "authentic" / f"a{i}.jpg", procedural_scene(100 + i, height, width))
        entries.append([f"authentic/a{i}.jpg", "Negative"])
    (folder / "index.json").write_text(json.dumps(entries))
    return folder
