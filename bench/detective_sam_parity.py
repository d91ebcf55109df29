"""Detective SAM's full profile against the authors' pipeline: the same network input and output.

    python bench/detective_sam_parity.py                        # compare with the stored reference
    python bench/detective_sam_parity.py --authors-repo PATH    # recompute it with the authors' code

The network is the full profile built with `torch.manual_seed(NETWORK_SEED)` (random weights, no
files needed); the images are integer patterns (`parity_image`, PARITY_SIZES) whose fine detail
aliases when shrunk. The reference (`detective_sam_parity.json`) was computed once with the
authors' inference code (a checkout of Gertlek/DetectiveSAM, commit in the file):
`prepare_sample` (Pillow bilinear resize to 512, their blur, their noise seeded from their sample
seed) and `ForgeryLocalizer` with the same random weights. The engine side runs
`engines.detective_sam.preprocess.prepare_streams` with their sample seed as the explicit seed,
then the network. Only summaries are stored: per normalised input stream and for the final 512²
probability, the mean and the values at SAMPLE_POINTS.

`tests/test_detective_sam_parity.py` runs the input comparison for both sizes and the network on
the small one (the suite's time limit); this script runs the network on both.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.detective_sam.build import build_detective_sam
from engines.detective_sam.model import DetectiveSAM
from engines.detective_sam.preprocess import prepare_streams

REFERENCE = Path(__file__).resolve().with_name("detective_sam_parity.json")
PARITY_SIZES = ((384, 256), (1536, 1024))
"""(width, height): an enlargement and a 3× shrink to 512×512."""
NETWORK_SEED = 0
SAMPLE_POINTS = ((0, 0, 0), (0, 7, 500), (1, 100, 37), (1, 255, 256), (2, 311, 480), (2, 511, 511),
                 (0, 400, 123), (2, 64, 200))
"""(channel, row, column) in the 512² tensors; the probability uses row and column only."""
AUTHORS_PERTURBATION = ("gaussian_blur/gaussian_noise", 0.75)
"""perturbation_type and perturbation_intensity of both releases."""
TOLERANCE = {"inputs": 1e-5, "probability": 1e-4}
"""Largest absolute difference accepted: inputs differ by float rounding of the blur only."""


def parity_image(width: int, height: int) -> np.ndarray:
    """H×W×3 uint8, integer arithmetic only (the same bytes on every platform): a zone plate
    (fine rings), a wrapped diagonal ramp and a 16-pixel checkerboard."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.int64)
    rings = (xx * xx + 2 * yy * yy) // 29 % 256
    ramp = (7 * xx + 3 * yy) % 256
    checks = ((xx // 16 + yy // 16) % 2) * 200 + 28
    return np.stack([rings, ramp, checks], axis=-1).astype(np.uint8)


def image_name(width: int, height: int) -> str:
    return f"parity_{width}x{height}"


def parity_network() -> DetectiveSAM:
    torch.manual_seed(NETWORK_SEED)
    return build_detective_sam("full")


def summarise(tensor: torch.Tensor) -> dict[str, Any]:
    """Mean and SAMPLE_POINTS values of a 3×512×512 tensor (or of a 512×512 map)."""
    values = tensor.detach().double()
    points = [(y, x) if values.ndim == 2 else (c, y, x) for c, y, x in SAMPLE_POINTS]
    return {"mean": float(values.mean()), "samples": [float(values[p]) for p in points]}


def engine_summary(model: DetectiveSAM, rgb: np.ndarray, sample_seed: int,
                   with_network: bool = True) -> dict[str, Any]:
    """The engine's preprocessing (and network) on one image, with an explicit sample seed."""
    streams, _ = prepare_streams(model, rgb, sample_seed)
    normalised = {name: (s - model.pixel_mean) / model.pixel_std for name, s in streams.items()}
    summary: dict[str, Any] = {"inputs": {name: summarise(t[0]) for name, t in normalised.items()}}
    if with_network:
        with torch.inference_mode():
            logits = model.forward_from_features(model.encode(streams))
        summary["probability"] = summarise(torch.sigmoid(logits)[0, 0])
    return summary


def differences(ours: dict[str, Any], reference: dict[str, Any]) -> dict[str, float]:
    """Largest absolute difference per compared entry ("inputs.noise", "probability")."""
    pairs = [(f"inputs.{name}", summary, reference["inputs"][name]) for name, summary in ours["inputs"].items()]
    if "probability" in ours:
        pairs.append(("probability", ours["probability"], reference["probability"]))
    return {
        label: max(abs(a - b) for a, b in zip([mine["mean"], *mine["samples"]],
                                              [theirs["mean"], *theirs["samples"]], strict=True))
        for label, mine, theirs in pairs
    }


def failures(found: dict[str, float]) -> list[str]:
    return [f"{label}: {value:.2e}" for label, value in found.items()
            if value > TOLERANCE["probability" if label == "probability" else "inputs"]]


def authors_reference(repo: Path, model: DetectiveSAM) -> dict[str, Any]:
    """Reference summaries from the authors' code in `repo`, with `model`'s random weights."""
    import subprocess

    from engines import torchvision_compat

    torchvision_compat.install()
    sys.path.insert(0, str(repo))
    from detectivesam_inference.dataset import build_sample_seed, prepare_sample
    from detectivesam_inference.models.forgerylocalizer import ForgeryLocalizer
    from detectivesam_inference.runtime import initialize_sam2_config
    from PIL import Image

    perturbation_type, intensity = AUTHORS_PERTURBATION
    initialize_sam2_config(repo / "sam2configs")
    theirs = ForgeryLocalizer(sam_config="sam2.1_hiera_b+.yaml", sam_checkpoint=None, prompt_dim=64,
                              downscale=16, dropout_rate=0.15, max_streams=2).eval()
    theirs.load_state_dict(model.state_dict())
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    images = {}
    with tempfile.TemporaryDirectory() as folder:
        for width, height in PARITY_SIZES:
            name = image_name(width, height)
            target = Path(folder) / "parity" / "target" / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(parity_image(width, height)).save(target)
            sample = prepare_sample(target, target, None, 512, perturbation_type, intensity)
            seed = build_sample_seed(target, target, None, perturbation_type, intensity)
            with torch.inference_mode():
                logits = theirs(sample.orig[None], [s[None] for s in sample.streams])
            images[name] = {
                "sample_seed": seed,
                "inputs": {stream: summarise(t) for stream, t in
                           zip(("original", "blur", "noise"), [sample.orig, *sample.streams], strict=True)},
                "probability": summarise(torch.sigmoid(logits)[0, 0]),
            }
    return {"authors_commit": commit, "torch": torch.__version__, "network_seed": NETWORK_SEED,
            "images": images}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors-repo", type=Path, default=None,
                        help="a checkout of Gertlek/DetectiveSAM: recompute and write the reference")
    args = parser.parse_args(argv)
    model = parity_network()
    if args.authors_repo is not None:
        REFERENCE.write_text(json.dumps(authors_reference(args.authors_repo, model), indent=1) + "\n")
        print(f"wrote {REFERENCE}")
        return 0
    reference = json.loads(REFERENCE.read_text())
    problems = []
    for width, height in PARITY_SIZES:
        expected = reference["images"][image_name(width, height)]
        found = differences(engine_summary(model, parity_image(width, height), expected["sample_seed"]), expected)
        print(json.dumps({"image": f"{width}x{height}", "max_abs_difference": found}))
        problems += failures(found)
    if problems:
        print("differs from the authors' pipeline: " + "; ".join(problems), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
