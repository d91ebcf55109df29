"""Detective SAM as a workbench engine: image in, mask + perturbation-shift evidence out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engines.engine import Engine, RawOutput
from engines.detective_sam.build import build_detective_sam
from engines.detective_sam.config import PROFILES, DetectiveSAMConfig
from engines.detective_sam.model import DetectiveSAM
from engines.detective_sam.preprocess import prepare_streams
from engines.store.model_store import file_sha256, get_store
from engines.data.tensors import to_original_size, top_fraction_mean


class DetectiveSAMEngine(Engine):
    name = "detective_sam"
    title = "Detective SAM"
    profiles = PROFILES
    default_profile = "compact"
    trainer_module = "engines.detective_sam.train"
    threshold = 0.5
    reading_guide = (
        "Detective SAM runs a frozen SAM encoder on the image and on a blurred and a noisy copy; "
        "edited regions react differently to these perturbations. The heatmap is the model's "
        "probability that a pixel was edited (the mask is where it exceeds the threshold stated with "
        "the result, fitted on synthetic validation data). The shift maps show how far each "
        "perturbation moved the encoder's features, per scale: they are the raw signal, "
        "normalised within each map, so compare places inside a map, not maps with each other. "
        "The image is resized to a square before analysis: thin structures and small edits can "
        "be missed, and heavy re-compression or blur of the whole image weakens the evidence. "
        "The score is the mean of the top 1% of pixel probabilities."
    )

    @classmethod
    def shipped_weights(cls, profile: str) -> Path | None:
        """The project trains and ships the compact adapters; full uses the released checkpoints."""
        if cls.profiles[profile].backbone != "lite_medsam":
            return None
        return super().shipped_weights(profile)

    def _build(self) -> DetectiveSAM:
        """Weights files that carry their configuration (our exports, imported releases) are
        built with it, so e.g. a release's perturbation settings are honoured; the encoder's
        precision is an analysis setting, taken from the engine's configuration."""
        config: DetectiveSAMConfig = self.config
        store = get_store()
        if config.backbone == "lite_medsam":
            weights = self.trained_weights()
            backbone = store.path("lite_medsam")
            self._weights_sha256 = {"lite_medsam": file_sha256(backbone), weights.name: file_sha256(weights)}
            model = build_detective_sam(self._analysis_config(weights), checkpoint=weights,
                                        backbone_checkpoint=backbone)
        else:
            weights = self.weights_path or store.path("detective_sam")
            self._weights_sha256 = {weights.name: file_sha256(weights)}
            model = build_detective_sam(self._analysis_config(weights), checkpoint=weights)
        return model.to(self.device).eval()

    def _analysis_config(self, weights: Path) -> DetectiveSAMConfig:
        return replace(self.trained_config(weights), encoder_precision=self.config.encoder_precision)

    def _run(self, model: DetectiveSAM, rgb: np.ndarray) -> RawOutput:
        """The noise seed is a run setting: the engine's configuration (`self.config`) may fix it;
        everything else comes from the model's configuration (the weights' own, when they carry
        one)."""
        height, width = rgb.shape[:2]
        config = model.config
        perturbation = config.perturbation
        explicit_seed = self.config.perturbation.noise_seed
        streams, sample_seed = prepare_streams(model, rgb, explicit_seed)
        with torch.inference_mode():
            features = model.encode({name: stream.to(self.device) for name, stream in streams.items()})
            probabilities = torch.sigmoid(model.forward_from_features(features))[0, 0]
            shifts = model.shift_maps(features)
        return RawOutput(
            heatmap=to_original_size(probabilities, height, width),
            score=top_fraction_mean(probabilities),
            maps={name: to_original_size(values[0], height, width) for name, values in shifts.items()},
            parameters={
                "input_size": config.input_size,
                "encoder_precision": config.encoder_precision,
                "resize": "Pillow bilinear (antialiased)" if config.antialiased_resize else "OpenCV INTER_LINEAR",
                "perturbed_streams": list(perturbation.streams),
                "blur_sigma": perturbation.blur_sigma,
                "blur_kernel": perturbation.blur_kernel,
                "noise_std": perturbation.noise_std,
                "jpeg_quality": perturbation.jpeg_quality,
                "noise_seed": sample_seed,
                "noise_seed_from": None if sample_seed is None else (
                    "the image's pixels and the perturbation settings" if explicit_seed is None
                    else "the configuration (perturbation.noise_seed)"),
            },
        )


ENGINE = DetectiveSAMEngine
