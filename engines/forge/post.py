"""The global post-processing drawn per sample (the same distribution for authentic and forged).

Chains come from `engines.data.perturb`. A quarter of the samples get none; the others get one or two
of resize / blur / noise, and JPEG (always last, as an upload would) with probability 0.6.
Resizing uses `restore=True` (down, then back to the original size with the same interpolation),
so outputs keep `--size` and masks stay exactly aligned while the resampling loss remains.
"""

from __future__ import annotations

import numpy as np

from engines.data.perturb import Chain, Perturbation

NO_POST_PROBABILITY = 0.25
JPEG_PROBABILITY = 0.6
JPEG_QUALITY = (60, 96)
RESIZE_SCALE = (0.5, 0.9)
RESIZE_INTERPOLATIONS = ("bilinear", "bicubic", "area")
BLUR_SIGMA = (0.3, 1.0)
NOISE_SIGMA = (0.5, 3.0)


def draw_post_chain(rng: np.random.Generator) -> Chain:
    if rng.random() < NO_POST_PROBABILITY:
        return Chain(())
    count = int(rng.integers(1, 3))
    kinds = [str(k) for k in rng.choice(["resize", "blur", "noise"], size=count, replace=False)]
    steps = [_draw_step(kind, rng) for kind in kinds]
    if rng.random() < JPEG_PROBABILITY:
        steps.append(Perturbation("jpeg", {"quality": int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))}))
    return Chain(tuple(steps))


def _draw_step(kind: str, rng: np.random.Generator) -> Perturbation:
    if kind == "resize":
        return Perturbation(
            "resize",
            {
                "scale": round(float(rng.uniform(*RESIZE_SCALE)), 3),
                "interpolation": str(rng.choice(RESIZE_INTERPOLATIONS)),
                "restore": True,
            },
        )
    if kind == "blur":
        return Perturbation("blur", {"sigma": round(float(rng.uniform(*BLUR_SIGMA)), 3)})
    return Perturbation("noise", {"sigma": round(float(rng.uniform(*NOISE_SIGMA)), 3)})
