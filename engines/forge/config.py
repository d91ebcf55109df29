"""The settings of one forge run: with the photo folder they fix every sample bit for bit."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engines.errors import UnknownNameError, WorkbenchError
from engines.registry import did_you_mean

EDIT_TYPES = ("splice", "copy_move", "removal", "regenerate", "partial")
AUTHENTIC = "authentic"


FORGE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class ForgeConfig:
    size: int = 512
    """Version 1: side of the square outputs (photo crops resized to it). Version 2: the smallest
    photo short side used (smaller photos are upscaled to `size_range[0]` only as a fallback)."""
    seed: int = 0
    types: tuple[str, ...] = EDIT_TYPES
    """Edit types, used in equal shares for the tampered samples."""
    authentic_ratio: float = 0.5
    area_range: tuple[float, float] = (0.01, 0.5)
    """Allowed mask area as a fraction of the image; samples outside are redrawn."""
    min_changed_fraction: float = 0.2
    """Share of mask pixels that must change by at least `checks.CHANGE_LEVEL`; else redrawn."""
    max_attempts: int = 8
    """Draws per sample before it is dropped."""
    inpaint_model: str | None = None
    """Full profile: a diffusers inpainting pipeline (local folder) for `regenerate`."""
    version: int = 2
    """1: square crops resized to `size`, one post-processing chain. 2: native-resolution crops
    with a camera-like capture before the edit and a second save after it (`capture.py`,
    `history.py`)."""
    size_range: tuple[int, int] = (256, 1024)
    """Version 2: the side of each sample's square crop is drawn from this range (pixels)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", tuple(self.types))
        object.__setattr__(self, "area_range", tuple(float(v) for v in self.area_range))
        object.__setattr__(self, "size_range", tuple(int(v) for v in self.size_range))
        if self.version not in FORGE_VERSIONS:
            raise WorkbenchError(f"Unknown forge version {self.version}; use one of {FORGE_VERSIONS}.")
        if not 64 <= self.size_range[0] <= self.size_range[1]:
            raise WorkbenchError(f"The size range must satisfy 64 <= min <= max, got {self.size_range}.")
        for name in self.types:
            if name not in EDIT_TYPES:
                raise UnknownNameError(f"Unknown edit type {name!r}.{did_you_mean(name, list(EDIT_TYPES))}")
        if not self.types and self.authentic_ratio < 1:
            raise WorkbenchError("Give at least one edit type (--types), or --authentic-ratio 1.")
        if self.size < 64:
            raise WorkbenchError(f"--size must be at least 64 pixels, got {self.size}.")
        if not 0 <= self.authentic_ratio <= 1:
            raise WorkbenchError(f"--authentic-ratio must lie in [0, 1], got {self.authentic_ratio}.")
        low, high = self.area_range
        if not 0 < low < high <= 0.9:
            raise WorkbenchError(f"The region area range must satisfy 0 < min < max <= 0.9, got {low}–{high}.")
        if not 0 <= self.min_changed_fraction <= 1:
            raise WorkbenchError(f"min_changed_fraction must lie in [0, 1], got {self.min_changed_fraction}.")
        if self.max_attempts < 1:
            raise WorkbenchError(f"max_attempts must be at least 1, got {self.max_attempts}.")

    def to_dict(self) -> dict:
        return {**asdict(self), "types": list(self.types), "area_range": list(self.area_range),
                "size_range": list(self.size_range)}

    @property
    def min_photo_side(self) -> int:
        """The output side photos are scanned for (see `photos.scan_photos`)."""
        return self.size if self.version == 1 else self.size_range[0]

    def sample_side(self, rng) -> int:
        """The side of one sample's crop: `size` (v1) or drawn from `size_range` (v2)."""
        if self.version == 1:
            return self.size
        return int(rng.integers(self.size_range[0], self.size_range[1] + 1))
