"""What every edit function receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class EditFailed(Exception):
    """This draw cannot produce a valid edit (e.g. the region does not fit); the sample retries."""


@dataclass(frozen=True)
class PhotoCrop:
    """A photo cropped to the output size, and where it came from."""

    rgb: np.ndarray
    source: str
    """Path relative to the photo folder."""
    crop: dict


@dataclass
class EditContext:
    rng: np.random.Generator
    area_range: tuple[float, float]
    """Allowed region area as a fraction of the image."""
    donor: Callable[[], PhotoCrop]
    """Loads another photo; called only by edits that need one."""
    regenerator: Callable[[], Any] | None = None
    """Returns the model that re-synthesises a region (see `regenerate.py`); loaded lazily."""


@dataclass(frozen=True)
class Edit:
    image: np.ndarray
    """The edited photo (uint8, same size as the input), before post-processing."""
    mask: np.ndarray
    """bool: every pixel the edit wrote (its footprint); all others are bit-identical."""
    params: dict[str, Any]
    """Every drawn parameter, JSON-ready."""
    donors: tuple[PhotoCrop, ...] = field(default=())
