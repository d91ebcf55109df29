"""The memory budget of one analysis (`FORGERY_MEMORY_BUDGET_MB`, default 3072): what it may
add to the memory of its loaded model, decoding the image included.

An image whose analysis would need more is analysed on a smaller working copy (area-downscaled,
the same aspect), and its heatmap, mask, maps and evidence coordinates are brought back to the
image's size, so every result keeps the one contract (maps at the image size); the result says
so in its parameters (`working_copy`). When even the maps at the image's size would not fit, the
image is refused with the size that would. A budget of 0 turns this off (`bench/memory.py
--calibrate` measures that way).

The cost model comes from `assets/memory.json`, measured by `bench/memory.py --calibrate` in a
fresh process per engine and profile: `output_mb_per_mp` (the result's arrays at the image size),
`working_mb_per_mp` (the rest of the analysis' peak above the loaded model: decoding,
intermediates, copies), both per megapixel, and `fixed_mb` (what it needs whatever the size). An
engine without a measurement gets the largest measured figures.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engines.errors import ImageInputError
from engines.settings import get_settings

if TYPE_CHECKING:
    from engines.data.imageio import LoadedImage

MEMORY_FILE = "memory.json"
DEFAULT_BUDGET_MB = 3072.0
PLANNING_SHARE = 0.85
"""Share of the budget an analysis is planned to: the linear cost model ran up to 17 % under the
peaks measured at 64 MP (decoding the full image and bringing the maps back to its size)."""
MIN_WORKING_MEGAPIXELS = 0.25
"""Below this a working copy would lose the traces the engines look for: such images are refused."""
COORDINATE_SUFFIXES = ("_xy", "_xyxy")
"""Evidence entries named so hold pixel coordinates, scaled back to the image with the maps."""


def budget_mb() -> float:
    return float(os.environ.get("FORGERY_MEMORY_BUDGET_MB", DEFAULT_BUDGET_MB))


@dataclass(frozen=True)
class MemoryCost:
    output_mb_per_mp: float
    working_mb_per_mp: float
    fixed_mb: float

    def estimate_mb(self, megapixels: float, working_megapixels: float) -> float:
        return self.fixed_mb + self.output_mb_per_mp * megapixels + self.working_mb_per_mp * working_megapixels


@functools.lru_cache(maxsize=1)
def measured_costs() -> dict[str, MemoryCost]:
    """'engine/profile' -> its measured cost (empty when the file is missing)."""
    path = get_settings().assets_dir / MEMORY_FILE
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text())["costs"]
    return {key: MemoryCost(**value) for key, value in entries.items()}


def cost_of(engine: str, profile: str) -> MemoryCost:
    costs = measured_costs()
    if f"{engine}/{profile}" in costs:
        return costs[f"{engine}/{profile}"]
    if not costs:
        raise ImageInputError(f"No memory measurements ({MEMORY_FILE}): run bench/memory.py --calibrate.")
    return MemoryCost(*(max(getattr(c, name) for c in costs.values()) for name in MemoryCost.__dataclass_fields__))


def working_size(engine: str, profile: str, width: int, height: int, budget: float) -> tuple[int, int]:
    """The largest (width, height) of the image's aspect whose analysis is planned within
    PLANNING_SHARE of `budget` MB; the image's own size when it fits as it is. Raises
    ImageInputError when no useful size fits."""
    cost = cost_of(engine, profile)
    megapixels = width * height / 1e6
    plan = budget * PLANNING_SHARE
    if cost.estimate_mb(megapixels, megapixels) <= plan:
        return width, height
    working = (plan - cost.estimate_mb(megapixels, 0.0)) / cost.working_mb_per_mp
    if working < MIN_WORKING_MEGAPIXELS:
        fitting = math.floor(largest_fitting_megapixels(cost, plan) * 10) / 10
        advice = f"Downscale it to at most {fitting:g} MP, or raise" if fitting > 0 else "Raise"
        raise ImageInputError(
            f"A {width}×{height} image ({megapixels:.1f} MP) needs more than the {budget:.0f} MB memory "
            f"budget of one {engine} analysis even on a reduced working copy (its maps alone at this size "
            f"take {cost.output_mb_per_mp * megapixels:.0f} MB). {advice} FORGERY_MEMORY_BUDGET_MB."
        )
    scale = math.sqrt(working / megapixels)
    return max(1, int(width * scale)), max(1, int(height * scale))


def largest_fitting_megapixels(cost: MemoryCost, budget: float) -> float:
    """The largest image analysed within `budget`, as it is or on the smallest working copy."""
    as_it_is = (budget - cost.fixed_mb) / (cost.output_mb_per_mp + cost.working_mb_per_mp)
    on_a_copy = (budget - cost.estimate_mb(0.0, MIN_WORKING_MEGAPIXELS)) / cost.output_mb_per_mp
    return max(as_it_is, on_a_copy, 0.0)


def reduced_copy(image: LoadedImage, width: int, height: int) -> LoadedImage:
    rgb = cv2.resize(image.rgb, (width, height), interpolation=cv2.INTER_AREA)
    return replace(image, rgb=np.ascontiguousarray(rgb))


def fit_memory_budget(engine: str, profile: str, image: LoadedImage) -> tuple[LoadedImage, dict[str, Any]]:
    """The image to analyse (the image itself, or a working copy that fits the budget) and what
    the result records about it (nothing when the image is analysed as it is)."""
    budget = budget_mb()
    if budget <= 0:
        return image, {}
    width, height = working_size(engine, profile, image.width, image.height, budget)
    if (width, height) == (image.width, image.height):
        return image, {}
    return reduced_copy(image, width, height), {
        "working_copy": {"width": width, "height": height, "of_width": image.width, "of_height": image.height,
                         "memory_budget_mb": budget,
                         "why": f"analysed on a {width}×{height} working copy of the {image.width}×{image.height} "
                                f"image to stay within the {budget:.0f} MB memory budget; maps brought back "
                                "to the image's size"}}


def to_size(array: np.ndarray, height: int, width: int, nearest: bool = False) -> np.ndarray:
    """A map brought back to the image's size: bilinear, or nearest (a boolean mask always), which
    invents no value the map did not hold (label maps such as the copy-move pairs stay labels)."""
    if array.dtype == bool:
        return cv2.resize(array.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(np.asarray(array, dtype=np.float32), (width, height), interpolation=interpolation)


def scaled_coordinates(evidence: Any, factor_x: float, factor_y: float) -> Any:
    """`evidence` with every coordinate entry (named with COORDINATE_SUFFIXES) scaled to the image."""
    if isinstance(evidence, list):
        return [scaled_coordinates(item, factor_x, factor_y) for item in evidence]
    if not isinstance(evidence, dict):
        return evidence
    scaled = {}
    for key, value in evidence.items():
        if key.endswith(COORDINATE_SUFFIXES) and isinstance(value, list):
            value = [round(v * (factor_x if i % 2 == 0 else factor_y), 1) for i, v in enumerate(value)]
        scaled[key] = scaled_coordinates(value, factor_x, factor_y)
    return scaled


def restore_output(raw: Any, working: LoadedImage, image: LoadedImage) -> Any:
    """An engine's raw output on the working copy, brought back to the image's size: the heatmap
    bilinearly, the mask and the evidence maps by nearest neighbour."""
    height, width = image.height, image.width
    return replace(
        raw,
        heatmap=to_size(raw.heatmap, height, width),
        mask=None if raw.mask is None else to_size(np.asarray(raw.mask, dtype=bool), height, width),
        maps={name: to_size(value, height, width, nearest=True) for name, value in raw.maps.items()},
        evidence=scaled_coordinates(raw.evidence, width / working.width, height / working.height),
    )
