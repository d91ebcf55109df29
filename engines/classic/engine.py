"""The classic engine: training-free ELA, noise, JPEG-ghost and copy-move tools fused into one
Analysis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engines.classic.copy_move import CloneSettings, copy_move
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
    clone: CloneSettings = CloneSettings()

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
        "after the edit erases these traces, so a low score does not clear an image.\n"
        "Copy-move (clone) detection adds a fourth tool: it looks for a region that appears twice "
        "in the same image, moved, rotated, scaled or mirrored. Each pair found is drawn in its "
        "own colour, both ends outlined and joined by a line (the 'copy-move pairs' view and "
        "map), and both ends enter the heatmap at the pair's score: the tool cannot tell the "
        "original from the copy, so one of the two is genuine. A pair is kept only when the two "
        "regions match pixel for pixel after the fitted move (fidelity, the median correlation, "
        "at least 0.9) and match clearly worse when moved by two pixels (distinctiveness); "
        "look-alikes that fail this are counted as rejected. It misleads on things that are "
        "genuinely alike: repeated tiles, windows, fences and printed packaging, products on a "
        "shelf, symmetric objects, and smooth gradients; there a pair is a lead to check by eye "
        "(an identical speck of noise or highlight in both ends), not proof. A copy of flat sky "
        "or a blank wall has nothing to match and is not found."
    )

    def _build(self) -> ClassicConfig:
        return self.config

    def _run(self, model: ClassicConfig, rgb: np.ndarray) -> RawOutput:
        """Tools -> fused heatmap (see `fusion`), then the larger of it and the copy-move regions
        (each verified pair's score over both its ends); mask = heatmap > 0.5 after a small
        opening; score = 1 - (1 - s)(1 - c), s the logistic of the fraction of the image in the
        trace tools' mask and c the copy-move score (independent evidence, either suffices). The
        noise residual is shown but not fused: it measures texture, not inconsistency."""
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
        traces = logistic(fused, config.logistic_offset, config.logistic_scale)
        traces_mask = clean_mask(traces, self.threshold, config.mask_opening)
        traces_score = float(logistic(float(traces_mask.mean()), config.score_offset, config.score_scale))
        clones = copy_move(rgb, config.clone)
        heatmap = np.maximum(traces, clones.regions)
        mask = clean_mask(heatmap, self.threshold, config.mask_opening)
        score = 1.0 - (1.0 - traces_score) * (1.0 - clones.score)
        tool_z_in_mask = {
            name: round(float(np.clip(z[traces_mask], 0.0, config.z_cap).mean()), 3) if traces_mask.any() else 0.0
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
                "copy_move_pairs": clones.pairs_map,
            },
            evidence={
                "mask_fraction": float(mask.mean()),
                "tool_z_in_mask": tool_z_in_mask,
                "traces_score": round(traces_score, 4),
                "copy_move_score": round(clones.score, 4),
                "copy_move_pairs": clones.pairs,
                "copy_move_rejected_lookalikes": clones.rejected,
            },
            parameters=dataclasses.asdict(config),
        )


ENGINE = ClassicEngine
