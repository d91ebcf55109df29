"""How much forge samples look like real forgeries, on statistics that do not train on anything.

Compares forge v1, forge v2 and a benchmark's tampered images (CASIA v1 by default; read only to
measure, never to fit) on:
- JPEG grid: the share of images with a visible 8×8 blocking grid, and of those, the share whose
  grid does not start at pixel (0, 0) — a crop after compression, the usual trace of a re-save;
- noise inside vs outside the mask: |log(σ_in / σ_out)| of a high-pass residual (robust σ), the
  inconsistency a splice of another photo brings;
- mask area (median and quartiles of the tampered fraction) and shape (solidity: area over convex
  hull area; number of connected regions).

    python bench/forge_realism.py --n 200 --out docs/benchmarks/forge_realism.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from engines.data.datasets import open_dataset
from engines.forge.config import ForgeConfig
from engines.forge.photos import scan_photos
from engines.forge.sample import make_sample
from engines.forge.stream import kind_of
from engines.settings import get_settings

GRID_RATIO = 1.15
"""Blockiness above this (gradient at the strongest 8-periodic offset over the mean) = a grid."""


def grid_offset(gray: np.ndarray) -> tuple[float, tuple[int, int]]:
    """(strength, (dx, dy)) of the 8×8 blocking grid: mean absolute first difference across each
    column/row phase mod 8, the strongest phase against the average of all phases."""
    g = gray.astype(np.float32)
    dx = np.abs(np.diff(g, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(g, axis=0)).mean(axis=1)
    col = np.array([dx[k::8].mean() for k in range(8)])
    row = np.array([dy[k::8].mean() for k in range(8)])
    strength = float((col.max() / col.mean() + row.max() / row.mean()) / 2)
    # a boundary between pixel 7 and 8 shows as difference index 7: phase 7 means grid at 0
    return strength, (int((col.argmax() + 1) % 8), int((row.argmax() + 1) % 8))


def robust_sigma(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) + 1e-3


def noise_gap(gray: np.ndarray, mask: np.ndarray) -> float:
    residual = cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F)
    inside, outside = residual[mask], residual[~mask]
    if inside.size < 64 or outside.size < 64:
        return float("nan")
    return abs(float(np.log(robust_sigma(inside) / robust_sigma(outside))))


def shape_stats(mask: np.ndarray) -> tuple[float, int]:
    count, labels = cv2.connectedComponents(mask.astype(np.uint8))
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = sum(cv2.contourArea(cv2.convexHull(c)) for c in contours)
    return (float(mask.sum() / hull) if hull > 0 else float("nan")), count - 1


def measure(pairs) -> dict:
    strengths, misaligned, gaps, areas, solidity, regions = [], [], [], [], [], []
    for rgb, mask in pairs:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        strength, offset = grid_offset(gray)
        strengths.append(strength)
        if strength > GRID_RATIO:
            misaligned.append(offset != (0, 0))
        gaps.append(noise_gap(gray, mask))
        areas.append(float(mask.mean()))
        s, n = shape_stats(mask)
        solidity.append(s)
        regions.append(n)
    quartiles = np.nanpercentile(areas, [25, 50, 75])
    return {
        "n": len(areas),
        "jpeg_grid_rate": round(float(np.mean(np.array(strengths) > GRID_RATIO)), 3),
        "grid_misaligned_rate": round(float(np.mean(misaligned)), 3) if misaligned else None,
        "noise_gap_median": round(float(np.nanmedian(gaps)), 3),
        "area_q25_q50_q75": [round(float(q), 3) for q in quartiles],
        "small_region_rate": round(float(np.mean(np.array(areas) < 0.05)), 3),
        "solidity_median": round(float(np.nanmedian(solidity)), 3),
        "multi_region_rate": round(float(np.mean(np.array(regions) > 1)), 3),
    }


def forge_pairs(version: int, n: int, photos_dir: Path):
    config = ForgeConfig(version=version, seed=11, authentic_ratio=0.0)
    photos = scan_photos(photos_dir, config.min_photo_side)
    for index in range(n):
        sample = make_sample(index, kind_of(index, config), config, photos)
        if sample.ok:
            yield sample.image, sample.mask


def benchmark_pairs(root: Path, n: int):
    dataset = open_dataset(root)
    tampered = [i for i, s in enumerate(dataset) if s.tampered][:n]
    for index in tampered:
        image, mask = dataset.load(index)
        if mask is not None and mask.any():
            yield image.rgb, mask


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="images per source")
    parser.add_argument("--benchmark", default="casia1")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    table = {
        "forge v1": measure(forge_pairs(1, args.n, settings.photos_dir)),
        "forge v2": measure(forge_pairs(2, args.n, settings.photos_dir)),
        args.benchmark: measure(benchmark_pairs(settings.benchmarks_dir / args.benchmark, args.n)),
    }
    text = json.dumps(table, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
