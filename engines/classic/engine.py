"""The classic engine: training-free ELA, noise and JPEG-ghost tools fused into one Analysis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engines.classic.ela import error_level_analysis
from engines.classic.fusion import (
    LOGISTIC_OFFSET,
    LOGISTIC_SCALE,
    SCORE_OFFSET,
    SCORE_SCALE,
    clean_mask,
    fused_z,
    logistic,
)
from engines.classic.jpeg_ghost import jpeg_ghost
from engines.classic.noise import noise_level_anomaly, noise_residual
from engines.engine import Engine, RawOutput
from engines.errors import ImageInputError

MIN_SIDE = 8
"""Pixels: below this there are no blocks to compare."""


@dataclass(frozen=True)
class ClassicConfig:
    """Every knob of the classic engine; the defaults are the `compact` profile."""

    ela_qualities: tuple[int, ...] = (90,)
    ela_smooth_sigma: float = 2.0
    noise_block: int = 32
    ghost_qualities: tuple[int, ...] = tuple(range(50, 100, 5))
    ghost_window: int = 16
    ela_weight: float = 1.0
    noise_weight: float = 1.0
    ghost_weight: float = 1.0
    z_cap: float = 8.0
    fusion_smooth_sigma: float = 4.0
    logistic_offset: float = LOGISTIC_OFFSET
    logistic_scale: float = LOGISTIC_SCALE
    mask_opening: int = 5
    score_offset: float = SCORE_OFFSET
    score_scale: float = SCORE_SCALE

    @property
    def weights(self) -> dict[str, float]:
        return {
            "ela": self.ela_weight,
            "noise_level_anomaly": self.noise_weight,
            "jpeg_ghost": self.ghost_weight,
        }


class ClassicEngine(Engine):
    name = "classic"
    title = "Classic forensics"
    profiles = {"compact": ClassicConfig()}
    reading_guide = (
        "The heatmap fuses three training-free tools, each asking whether a region behaves "
        "unlike the rest of the image: error level analysis (how much it changes when re-saved "
        "as JPEG), the local noise level, and JPEG ghosts (a region once saved at another "
        "quality). Every tool compares a region with parts of the same image of similar texture, "
        "so 0.5 means more unusual than about 99 % of an authentic photo's pixels, not proof of "
        "editing. Ignore isolated specks, sharp edges and text in the raw ELA and noise-residual "
        "maps, clipped highlights and shadows, and flat sky; a region that stands out in several "
        "maps at once is the strongest evidence. Heavy re-compression, resizing or filtering "
        "after the edit erases these traces, so a low score does not clear an image."
    )

    def _build(self) -> ClassicConfig:
        return self.config

    def _run(self, model: ClassicConfig, rgb: np.ndarray) -> RawOutput:
        """Tools -> fused heatmap (see `fusion`); mask = heatmap > 0.5 after a small opening;
        score = logistic of the fraction of the image in the mask. The noise residual is shown
        but not fused: it measures texture, not inconsistency."""
        config = model
        if min(rgb.shape[:2]) < MIN_SIDE:
            raise ImageInputError(
                f"The classic tools need an image of at least {MIN_SIDE}×{MIN_SIDE} pixels; "
                f"this one is {rgb.shape[1]}×{rgb.shape[0]}."
            )
        ela = error_level_analysis(rgb, config.ela_qualities, config.ela_smooth_sigma)
        noise = noise_level_anomaly(rgb, config.noise_block)
        ghost = jpeg_ghost(rgb, config.ghost_qualities, config.ghost_window)
        z_maps = {"ela": ela.z, "noise_level_anomaly": noise.z, "jpeg_ghost": ghost.z}
        fused = fused_z(z_maps, config.weights, config.z_cap, config.fusion_smooth_sigma)
        heatmap = logistic(fused, config.logistic_offset, config.logistic_scale)
        mask = clean_mask(heatmap, self.threshold, config.mask_opening)
        mask_fraction = float(mask.mean())
        score = float(logistic(mask_fraction, config.score_offset, config.score_scale))
        tool_z_in_mask = {
            name: round(float(np.clip(z[mask], 0.0, config.z_cap).mean()), 3) if mask.any() else 0.0
            for name, z in z_maps.items()
        }
        return RawOutput(
            heatmap=heatmap,
            score=score,
            mask=mask,
            maps={
                "ela": ela.display,
                "noise_residual": noise_residual(rgb, config.ela_smooth_sigma),
                "noise_level_anomaly": noise.display,
                "jpeg_ghost": ghost.display,
            },
            evidence={
                "mask_fraction": mask_fraction,
                "tool_z_in_mask": tool_z_in_mask,
                **ghost.facts,
            },
            parameters=dataclasses.asdict(config),
        )


ENGINE = ClassicEngine
