"""PNG grids (original | forged | mask overlay, one row per sample) so a person can judge realism.

The grids are derived from the photo folder, so they belong in a git-ignored folder
(`docs/forge/`), never in the repository.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from engines.forge.config import ForgeConfig
from engines.forge.photos import scan_photos
from engines.forge.sample import ForgedSample, make_sample

HEADER = 28
GAP = 4
OVERLAY_COLOUR = np.array([255, 40, 40], np.float32)
INDEX_STRIDE = 1000
"""Gallery samples of edit type k use indices k·1000 + row, so each type shows other photos."""


def mask_overlay(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the mask tinted red and outlined."""
    out = rgb.astype(np.float32)
    out[mask] = 0.55 * out[mask] + 0.45 * OVERLAY_COLOUR
    out = np.clip(out, 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 0), 1)
    return out


def gallery_grid(samples: list[ForgedSample], tile: int) -> np.ndarray:
    """Rows of [original | forged | mask overlay], each tile `tile` px, with column titles."""
    titles = ("original", "forged", "mask")
    width = 3 * tile + 2 * GAP
    rows = [_header(titles, tile, width)]
    for sample in samples:
        tiles = [sample.original, sample.forged, mask_overlay(sample.forged, sample.edit_mask)]
        resized = [cv2.resize(t, (tile, tile), interpolation=cv2.INTER_AREA) for t in tiles]
        gap = np.full((tile, GAP, 3), 255, np.uint8)
        rows += [np.hstack([resized[0], gap, resized[1], gap, resized[2]]), np.full((GAP, width, 3), 255, np.uint8)]
    return np.vstack(rows[:-1])


def _header(titles: tuple[str, ...], tile: int, width: int) -> np.ndarray:
    header = np.full((HEADER, width, 3), 255, np.uint8)
    for column, title in enumerate(titles):
        cv2.putText(header, title, (column * (tile + GAP) + 6, HEADER - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 1)
    return header


def write_gallery(
    photos_dir: Path | str, out_dir: Path | str, *, config: ForgeConfig | None = None, rows: int = 4, tile: int = 384
) -> list[Path]:
    """Write `<out_dir>/<edit type>.png` for each edit type of `config`; returns the paths."""
    config = config or ForgeConfig()
    photos = scan_photos(photos_dir, config.min_photo_side)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for k, kind in enumerate(config.types):
        samples = [make_sample(k * INDEX_STRIDE + row, kind, config, photos) for row in range(rows)]
        grid = gallery_grid([s for s in samples if s.ok], tile)
        path = out_dir / f"{kind}.png"
        cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        written.append(path)
    return written
