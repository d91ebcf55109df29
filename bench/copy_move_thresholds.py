"""Where the classic copy-move tool's two thresholds come from: forge copy-moves of real photos.

    python bench/copy_move_thresholds.py --photos ../shared/data/photos -n 80 --out runs/bench/copy_move

Each sample is a photo (long side 300–800 px, JPEG 75/90 or none before the edit) with one forge
copy-move (`engines.forge.copy_move`: an object-like region, scaled 0.75–1.25 half the time,
rotated up to 45° in 40 %, mirrored in 30 %, hard/feathered/Poisson edge), saved again at JPEG
70/80/90 or not at all; the same photo unedited is its authentic twin. Every candidate pair the
tool verifies is recorded with its fidelity and distinctiveness; a pair is "true" when its two
ends score pixel F1 > 0.3 against the copy's mask. The script prints the percentiles of both
numbers over true pairs, the best of them over pairs on authentic twins, and how often the
configured thresholds keep a true pair on a forgery and any pair on a twin. No benchmark is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from common import run_header

from engines.classic.copy_move import CloneSettings, verified_pairs, work_copy
from engines.forge.copy_move import copy_move
from engines.forge.edit import EditContext, EditFailed
from engines.data.perturb import jpeg

TRUE_PAIR_F1 = 0.3


def photo_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})


def forged_pairs(photos: list[Path], count: int, seed: int):
    """Yield (forged rgb, copy mask, authentic twin rgb, parameters) `count` times."""
    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        path = photos[int(rng.integers(len(photos)))]
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        scale = int(rng.integers(300, 800)) / max(rgb.shape[:2])
        if scale < 1:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        before = int(rng.choice([0, 75, 90]))
        rgb = jpeg(rgb, before) if before else rgb
        try:
            edit = copy_move(rgb, EditContext(rng=rng, area_range=(0.005, 0.12), donor=lambda: None))
        except EditFailed:
            continue
        after = int(rng.choice([0, 0, 70, 80, 90]))
        save = (lambda image: jpeg(image, after)) if after else (lambda image: image)
        made += 1
        yield save(edit.image), edit.mask, save(rgb), {**edit.params, "jpeg_before": before, "jpeg_after": after}


def pair_rows(rgb: np.ndarray, mask: np.ndarray | None, settings: CloneSettings) -> list[dict]:
    grey, _ = work_copy(rgb, settings.max_megapixels)
    rows = []
    for pair in verified_pairs(grey, settings):
        row = {"fidelity": pair.fidelity, "distinctiveness": pair.distinctiveness}
        if mask is not None:
            truth = cv2.resize(mask.astype(np.uint8), grey.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
            both = pair.source | pair.copy
            row["f1"] = float(2 * (both & truth).sum() / (both.sum() + truth.sum()))
        rows.append(row)
    return rows


def kept(row: dict, settings: CloneSettings) -> bool:
    return row["fidelity"] > settings.min_correlation and row["distinctiveness"] > settings.min_distinctiveness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("-n", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    settings = CloneSettings()
    samples = []
    for forged, mask, twin, params in forged_pairs(photo_paths(args.photos), args.n, args.seed):
        samples.append({"params": params, "forged": pair_rows(forged, mask, settings),
                        "authentic": pair_rows(twin, None, settings)})
        print(f"{len(samples)}/{args.n}", file=sys.stderr, flush=True)
    true_pairs = [row for s in samples for row in s["forged"] if row["f1"] > TRUE_PAIR_F1]
    twin_pairs = [row for s in samples for row in s["authentic"]]
    summary = {
        "forgeries": len(samples),
        "true_pair_found": np.mean([any(r["f1"] > TRUE_PAIR_F1 for r in s["forged"]) for s in samples]),
        "true_pair_kept": np.mean([any(r["f1"] > TRUE_PAIR_F1 and kept(r, settings) for r in s["forged"])
                                   for s in samples]),
        "twin_with_kept_pair": np.mean([any(kept(r, settings) for r in s["authentic"]) for s in samples]),
    }
    for key in ("fidelity", "distinctiveness"):
        summary[f"true_{key}_p5_p10_p25_p50"] = np.percentile([r[key] for r in true_pairs], [5, 10, 25, 50]).round(3).tolist()
        summary[f"twin_{key}_top5"] = sorted(round(r[key], 3) for r in twin_pairs)[-5:]
    summary = {key: (float(value) if isinstance(value, np.floating) else value) for key, value in summary.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "copy_move_thresholds.json").write_text(
        json.dumps({**run_header(), "settings": vars(args) | {"photos": str(args.photos), "out": str(args.out)},
                    "summary": summary, "samples": samples}, indent=1, default=str))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
