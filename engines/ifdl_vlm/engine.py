"""IFDL-VLM as a workbench engine: class, mask, measured evidence and a written explanation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.engine import Engine, RawOutput, TrainingStage
from engines.ifdl_vlm.config import CLASS_NAMES, PROFILES, TAMPERED_CLASS, IFDLConfig
from engines.ifdl_vlm.evidence import measure_evidence
from engines.ifdl_vlm.model import IFDLVLMModel
from engines.ifdl_vlm.teacher import evidence_prompt, split_sections
from engines.ifdl_vlm.weights import load_part, split_weights, training_commands
from engines.store.model_store import file_sha256, get_store
from engines.data.tensors import to_original_size, to_square_input

REAL_CLASS = CLASS_NAMES.index("real")


def flag_incomplete(text: str) -> str:
    """The generated text, with a visible warning when sections are missing (it happens on images
    far from the training data, e.g. a flat grey one) so it is not read as a whole explanation."""
    missing = [name for name, body in split_sections(text).items() if not body]
    if not missing:
        return text
    return (f"{text}\n\n(Incomplete explanation — no {', '.join(missing)} section: the language "
            "model went off track on this image; rely on the evidence numbers.)")


class IFDLVLMEngine(Engine):
    name = "ifdl_vlm"
    title = "IFDL-VLM"
    profiles = PROFILES
    default_profile = "compact"
    trainer_module = "engines.ifdl_vlm.train"
    threshold = 0.5
    writes_explanations = True
    stages = (TrainingStage("explainer", "stage 2: the explanation model, on top of stage-1 weights given as the "
                            "initial weights", "a dataset made by the forge", "engines.ifdl_vlm.explainer_train"),)
    reading_guide = (
        "IFDL-VLM first classifies the whole image as real, fully synthetic or tampered, and only "
        "an image classified tampered gets a mask (so a wrong class means no mask at all). The "
        "score is 1 − P(real): fully synthetic counts as manipulated. The explanation is written "
        "by a small language model from the image features and the measured evidence listed "
        "beside it (class probabilities, the region's box, area and location, and noise and JPEG "
        "error levels inside vs outside the region, in grey levels): trust the numbers, and read "
        "the prose as a summary of them. The kind of edit it names is the model's guess from the "
        "image, not a measurement. Noise and error levels also differ between textured and flat "
        "content, so a mismatch is a hint, not proof."
    )

    @classmethod
    def shipped_weights(cls, profile: str) -> Path | None:
        """Only the compact profile has weights of ours."""
        if profile != "compact":
            return None
        return super().shipped_weights(profile)

    @classmethod
    def how_to_train(cls, profile: str) -> str:
        return training_commands(profile)

    def _build(self) -> IFDLVLMModel:
        from engines.ifdl_vlm.explainer_train import load_explainer
        from engines.ifdl_vlm.train import load_stage1

        weights = self.trained_weights()
        config: IFDLConfig = self.trained_config(weights)
        _, explainer_tensors = split_weights(weights)
        store = get_store()
        self._weights_sha256 = {config.sam: file_sha256(store.path(config.sam)), weights.name: file_sha256(weights)}
        stage1 = load_stage1(config, weights)
        explainer = None
        if explainer_tensors:
            explainer = load_explainer(config, config.vision.hidden_size)
            load_part(explainer, explainer.trainable_state_dict(), explainer_tensors, str(weights))
            lm_path = store.path(config.explainer.language_model)
            self._weights_sha256[config.explainer.language_model] = file_sha256(lm_path)
        return IFDLVLMModel(stage1, explainer).to(self.device).eval()

    def _run(self, model: IFDLVLMModel, rgb: np.ndarray, explain: bool = True) -> RawOutput:
        config: IFDLConfig = model.stage1.config
        height, width = rgb.shape[:2]
        clip_images = to_square_input(rgb, config.vision.image_size).to(self.device)
        sam_images = to_square_input(rgb, config.sam_input_size).to(self.device)
        probabilities, masks = model.stage1.predict(clip_images, sam_images)
        probabilities = probabilities[0].cpu()
        predicted = int(probabilities.argmax())
        label = CLASS_NAMES[predicted]
        heatmap = to_original_size(masks[0, 0], height, width)
        mask = heatmap > self.threshold
        evidence = measure_evidence(rgb, mask if predicted == TAMPERED_CLASS else None, label,
                                    float(probabilities[predicted]))
        evidence["class_probabilities"] = {name: round(float(p), 3) for name, p in zip(CLASS_NAMES, probabilities, strict=True)}
        text = None
        if model.explainer is not None and explain:
            features = model.stage1.explainer_features(rgb, mask if mask.any() else None, config.explainer.alpha)
            text = flag_incomplete(model.explainer.explain(features.to(self.device), evidence_prompt(evidence)))
        return RawOutput(
            heatmap=heatmap,
            score=1.0 - float(probabilities[REAL_CLASS]),
            mask=mask,
            label=label,
            text=text,
            evidence=evidence,
            parameters={"vision_input": config.vision.image_size, "sam_input": config.sam_input_size,
                        "alpha": config.explainer.alpha, "explanations": text is not None},
        )


ENGINE = IFDLVLMEngine
