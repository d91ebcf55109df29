"""DiffForensics at the image's own pixel grid: pad to the stride, tile large images.

Resizing an image to the network's training size resamples away the fine traces (sensor noise,
demosaicing, the JPEG 8×8 grid) a forensic network relies on. The network is fully
convolutional, so the image is only reflect-padded to a multiple of the stride. Above
`tile_size` it is cut into overlapping tiles whose maps are blended back with weights that fall
off towards each tile's border, so memory stays bounded whatever the image size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engines.diffforensics.model import STRIDE, DiffForensics


@dataclass
class NativeMaps:
    probability: np.ndarray
    """H×W localization probability."""
    edges: list[np.ndarray]
    """H×W edge-cue probabilities, finest scale first."""
    detection: float
    """The detection head's probability; the highest over tiles."""


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def _blend_weight(height: int, width: int, overlap: int) -> np.ndarray:
    """1 inside, ramping down over `overlap` pixels towards each border (never to 0)."""
    def ramp(n: int) -> np.ndarray:
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]) + 1
        return np.clip(distance / max(overlap, 1), 1e-3, 1.0)
    return np.outer(ramp(height), ramp(width)).astype(np.float32)


def _forward_padded(model: DiffForensics, rgb: np.ndarray, device: torch.device) -> tuple[list[np.ndarray], float]:
    """Probability maps (localization, then edge cues) of one tile at its own size."""
    height, width = rgb.shape[:2]
    pad_h, pad_w = (-height) % STRIDE, (-width) % STRIDE
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div_(255.0)[None]
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    with torch.inference_mode():
        output = model(x.to(device))
    maps = [output.mask_logits, *output.edge_logits]
    return ([torch.sigmoid(m)[0, 0, :height, :width].float().cpu().numpy() for m in maps],
            float(torch.sigmoid(output.detection_logits)[0]))


def native_forward(model: DiffForensics, rgb: np.ndarray, device: torch.device) -> NativeMaps:
    config = model.config
    height, width = rgb.shape[:2]
    tile, overlap = config.tile_size, config.tile_overlap
    ys, xs = _tile_starts(height, tile, overlap), _tile_starts(width, tile, overlap)
    sums: list[np.ndarray] | None = None
    weights = np.zeros((height, width), np.float32)
    detection = 0.0
    for y in ys:
        for x in xs:
            patch = rgb[y:y + tile, x:x + tile]
            maps, score = _forward_padded(model, patch, device)
            weight = _blend_weight(*patch.shape[:2], overlap if len(ys) * len(xs) > 1 else 0)
            if sums is None:
                sums = [np.zeros((height, width), np.float32) for _ in maps]
            for total, values in zip(sums, maps, strict=True):
                total[y:y + patch.shape[0], x:x + patch.shape[1]] += values * weight
            weights[y:y + patch.shape[0], x:x + patch.shape[1]] += weight
            detection = max(detection, score)
    assert sums is not None
    probability, *edges = [total / weights for total in sums]
    return NativeMaps(probability=probability, edges=edges, detection=detection)
