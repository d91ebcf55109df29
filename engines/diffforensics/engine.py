"""DiffForensics as a workbench engine: image in, localization heatmap, detection score and the
edge-cue probability maps of three decoder scales out."""

from __future__ import annotations

import numpy as np
import torch

from engines.diffforensics.build import build_diffforensics
from engines.diffforensics.config import PROFILES, DiffForensicsConfig
from engines.diffforensics.model import DiffForensics
from engines.diffforensics.native import native_forward
from engines.engine import Engine, RawOutput, TrainingStage
from engines.store.model_store import file_sha256, get_store
from engines.data.tensors import to_original_size, to_square_input, top_fraction_mean

EDGE_MAP_NAMES = ("edge_cue_s1", "edge_cue_s2", "edge_cue_s3")
"""Edge-cue maps f_k of the decoder blocks at strides 4, 8 and 16 (finest first)."""


class DiffForensicsEngine(Engine):
    name = "diffforensics"
    title = "DiffForensics"
    profiles = PROFILES
    default_profile = "compact"
    trainer_module = "engines.diffforensics.train"
    trains_on_the_fly = True
    stages = (TrainingStage("pretrain", "stage 1: denoising pretraining of the decoder on unlabelled photos",
                            "a folder of real photos", "engines.diffforensics.pretrain", before_main=True),)
    threshold = 0.5
    reading_guide = (
        "DiffForensics is an encoder-decoder whose decoder was first trained to remove "
        "structured (simplex) noise from ordinary photos, then fine-tuned to find edits. The "
        "heatmap is the localization head's probability that a pixel was edited (mask above "
        "0.5); the score is a separate detection head's probability that the image was edited "
        "at all, so a high score with an empty heatmap (or the reverse) means the two heads "
        "disagree: treat it as uncertain. The edge-cue maps show where the model sees the "
        "boundary of an edited region, from fine (s1) to coarse (s3); they help judge whether a "
        "highlighted region has a plausible outline. The image is resized to a square first, so "
        "thin structures and small edits can be missed; the compact model is small and trained "
        "on synthetic forgeries only."
    )

    @classmethod
    def how_to_train(cls, profile: str) -> str:
        return (f"`python -m engines train --engine diffforensics --profile {profile} --stage pretrain "
                "--data PHOTOS --out RUN1` (stage 1), then `python -m engines train --engine diffforensics "
                f"--profile {profile} --init RUN1/weights.safetensors --data DIR --out RUN2` (stage 2)")

    def _build(self) -> DiffForensics:
        weights = self.trained_weights()
        config = self.trained_config(weights)
        model = build_diffforensics(config, checkpoint=weights)
        self._weights_sha256 = {weights.name: file_sha256(weights)}
        if config.encoder_weights is not None:
            encoder_file = get_store().find(config.encoder_weights)
            if encoder_file is not None and encoder_file.is_file():
                self._weights_sha256[config.encoder_weights] = file_sha256(encoder_file)
        return model.to(self.device).eval()

    def _run(self, model: DiffForensics, rgb: np.ndarray) -> RawOutput:
        config = model.config
        height, width = rgb.shape[:2]
        if config.native:
            native = native_forward(model, rgb, self.device)
            heatmap, edge_maps, detection = native.probability, native.edges, native.detection
        else:
            with torch.inference_mode():
                output = model(to_square_input(rgb, config.input_size).to(self.device))
            heatmap = to_original_size(torch.sigmoid(output.mask_logits)[0, 0], height, width)
            edge_maps = [to_original_size(torch.sigmoid(logits)[0, 0], height, width) for logits in output.edge_logits]
            detection = float(torch.sigmoid(output.detection_logits)[0])
        score = detection if config.image_score == "detection_head" else top_fraction_mean(torch.from_numpy(heatmap))
        return RawOutput(
            heatmap=heatmap,
            score=score,
            maps=dict(zip(EDGE_MAP_NAMES, edge_maps, strict=True)),
            parameters={"analysed_at": "native resolution" if config.native else f"{config.input_size} px square",
                        "image_score": config.image_score,
                        "fixed_timestep": config.diffusion.fixed_timestep,
                        **({"tile_size": config.tile_size} if config.native else {"input_size": config.input_size})},
        )


ENGINE = DiffForensicsEngine
