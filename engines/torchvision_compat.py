"""Make the PyPI torchvision wheel importable next to the CPU torch build.

torchvision 0.28.0 on PyPI is a CUDA build; beside the CPU torch its C++ operators are not
registered and `import torchvision` fails with "operator torchvision::nms does not exist", which
breaks transformers, diffusers, segment_anything and sam2 (see ../shared/docs/platform.md).
Declaring the operator schemas (with a pure-torch CPU kernel for `nms`) before torchvision is
imported fixes it. Installing this is idempotent and a no-op when torchvision works already.
"""

from __future__ import annotations

import importlib.metadata

import torch

_LIBRARY: torch.library.Library | None = None


def _nms_cpu(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    order = scores.argsort(descending=True)
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        top_left = torch.maximum(boxes[i, :2], boxes[:, :2])
        bottom_right = torch.minimum(boxes[i, 2:], boxes[:, 2:])
        inter = (bottom_right - top_left).clamp(min=0).prod(dim=1)
        iou = inter / (areas[i] + areas - inter).clamp(min=1e-12)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def _cuda_torchvision_beside_cpu_torch() -> bool:
    try:
        torchvision_version = importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return False
    return torch.version.cuda is None and "+cpu" not in torchvision_version


def install() -> None:
    global _LIBRARY
    if _LIBRARY is not None or not _cuda_torchvision_beside_cpu_torch():
        return
    _LIBRARY = torch.library.Library("torchvision", "DEF")
    _LIBRARY.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBRARY.define(
        "qnms(Tensor dets, Tensor scores, float iou_threshold, float scale, int zero_point) -> Tensor"
    )
    _LIBRARY.impl("nms", _nms_cpu, "CPU")
