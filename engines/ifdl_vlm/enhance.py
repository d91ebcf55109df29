"""Region-aware visual feature enhancement: α·V(x) + (1 − α)·V(x ⊙ M).

V is the vision encoder, x the image in [0, 1], M the binarised mask (all ones without a mask).
The authors mask the normalised tensor (masked pixels become the mean colour); here the mask is
applied before the encoder's own normalisation (masked pixels become black), because the compact
encoder is not CLIP and normalises differently. Unlike their inference (which
crops the image but stretches the mask), the image and the mask are resized to the square input
the same way here (`engines.data.tensors`), so they stay aligned on non-square images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from engines.data.tensors import mask_to_square, to_square_input


def aligned_square_inputs(rgb: np.ndarray, mask: np.ndarray | None, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """1×3×S×S image in [0, 1] and its 1×1×S×S float {0, 1} mask, both resized the same way."""
    image = to_square_input(rgb, size)
    if mask is None:
        square = torch.ones(1, 1, size, size)
    else:
        square = torch.from_numpy(mask_to_square(np.asarray(mask, dtype=bool), size)).float()[None, None]
    return image, square


def region_aware_features(encode: Callable[[torch.Tensor], torch.Tensor], pixel_values: torch.Tensor,
                          masks: torch.Tensor | None, alpha: float) -> torch.Tensor:
    """α·encode(x) + (1 − α)·encode(x ⊙ M) for images `pixel_values` (B, 3, S, S) in [0, 1] and
    masks (B, 1, S, S) binarised at 0.5 (None: all ones, so the result is encode(x))."""
    features = encode(pixel_values)
    if masks is None or alpha == 1.0:
        return features
    binary = (masks > 0.5).to(pixel_values.dtype)
    return alpha * features + (1.0 - alpha) * encode(pixel_values * binary)
