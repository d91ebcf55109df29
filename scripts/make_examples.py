"""Writes the example images of assets/examples/ from procedural scenes (see its README.md).

Run from the project root: `.venv/bin/python scripts/make_examples.py`. Deterministic: the same
files every time (OpenCV's JPEG encoder at quality 90).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from engines.reports.render import mask_image
from engines.data.synthetic import copy_moved_scene, procedural_scene, spliced_scene

OUT = Path(__file__).resolve().parent.parent / "assets" / "examples"
FINAL_QUALITY = 90


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, FINAL_QUALITY])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (rgb, mask) in {"spliced": spliced_scene(1), "copy_move": copy_moved_scene(2)}.items():
        _write_jpeg(OUT / f"{name}.jpg", rgb)
        cv2.imwrite(str(OUT / f"{name}_mask.png"), mask_image(mask))
    _write_jpeg(OUT / "authentic.jpg", procedural_scene(3))


if __name__ == "__main__":
    main()
