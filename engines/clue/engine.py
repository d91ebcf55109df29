"""CLUE as a workbench engine: image in, forgery map + per-branch and per-noise-level evidence out."""

from __future__ import annotations

import numpy as np
import torch

from engines.clue.build import backbone_weights, build_clue
from engines.clue.config import PROFILES, CLUEConfig
from engines.clue.model import CLUE
from engines.engine import Engine, RawOutput
from engines.store.model_store import file_sha256, get_store
from engines.data.tensors import to_original_size, to_square_input, top_fraction_mean

NOISE_SEED = 0
"""The latent noise ε is drawn from a fixed seed: the same image always gives the same result."""
SCORE_FRACTION = 0.01


class CLUEEngine(Engine):
    name = "clue"
    title = "CLUE"
    profiles = PROFILES
    default_profile = "compact"
    trainer_module = "engines.clue.train"
    threshold = 0.5
    reading_guide = (
        "CLUE adds rectified-flow noise to the image's latent (as Stable Diffusion 3 does) and "
        "reads a diffusion transformer's features, next to a SAM image encoder's features; both "
        "were trained to highlight edited regions. The heatmap is the probability that a pixel "
        "was edited (the mask is where it exceeds the threshold stated with the result); the score "
        "is the mean of the top 1% of those probabilities. "
        "The extra maps are readouts trained on one source each — 'sam_branch' (image structure), "
        "'latent_branch' (all noise levels together) and 'latent_t<σ>' (one noise level; σ is the "
        "fraction of noise) — to show which branch sees the edit; they are not part of the "
        "decision. The image is resized to small squares first (compact: 256 and 128 px): "
        "small edits and thin structures can be missed, and re-compression or blur of the whole "
        "image weakens the latent evidence more than the SAM evidence."
    )

    def _build(self) -> CLUE:
        weights = self.trained_weights()
        config: CLUEConfig = self.trained_config(weights)
        model = build_clue(config, checkpoint=weights)
        store = get_store()
        paths = {name: store.path(name) for name in backbone_weights(config)}
        self._weights_sha256 = {name: file_sha256(path) if path.is_file() else f"folder {path}"
                                for name, path in paths.items()}
        self._weights_sha256[weights.name] = file_sha256(weights)
        return model.to(self.device).eval()

    def _run(self, model: CLUE, rgb: np.ndarray) -> RawOutput:
        height, width = rgb.shape[:2]
        config = model.config
        latent_images = to_square_input(rgb, config.latent.input_size).to(self.device)
        sam_images = to_square_input(rgb, config.sam.input_size).to(self.device)
        generator = torch.Generator(device=self.device).manual_seed(NOISE_SEED)
        with torch.inference_mode():
            output = model(latent_images, sam_images, generator)
            probabilities = torch.sigmoid(output.logits)[0, 0]
            maps = {name: to_original_size(torch.sigmoid(logits)[0, 0], height, width)
                    for name, logits in output.evidence.items()}
        latent = config.latent
        return RawOutput(
            heatmap=to_original_size(probabilities, height, width),
            score=top_fraction_mean(probabilities, SCORE_FRACTION),
            maps=maps,
            parameters={
                "noise": latent.noise,
                "shift": latent.shift,
                "noise_levels": [round(s, 4) for s in model.latent.sigmas],
                "noise_seed": NOISE_SEED,
                "latent_input_size": latent.input_size,
                "sam_input_size": config.sam.input_size,
                "score": f"mean of the top {SCORE_FRACTION:.0%} of pixel probabilities",
            },
        )


ENGINE = CLUEEngine
