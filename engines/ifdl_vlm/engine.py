"""IFDL-VLM as a workbench engine: class, mask, measured evidence and a written explanation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.engine import Engine, RawOutput, TrainingStage
from engines.ifdl_vlm.compose import compose_explanation
from engines.ifdl_vlm.config import CLASS_NAMES, PROFILES, IFDLConfig
from engines.ifdl_vlm.decision import decided_class, flagged_region, manipulation_score
from engines.ifdl_vlm.evidence import measure_evidence
from engines.ifdl_vlm.explanation_check import explanation_problems
from engines.ifdl_vlm.model import IFDLVLMModel
from engines.ifdl_vlm.teacher import evidence_prompt
from engines.ifdl_vlm.weights import load_part, split_weights, training_commands
from engines.store.model_store import file_sha256, get_store
from engines.data.tensors import to_original_size, to_square_input

def explain_image(model: IFDLVLMModel, rgb: np.ndarray, mask: np.ndarray | None, label: str,
                  evidence: dict) -> str:
    """The explanation of an image for its class, region and evidence (`compose.py`), checked
    against them: a text that fails the check (it cannot by construction; the check guards that)
    says so at its end. The check's outcome is added to `evidence`."""
    device = model.stage1.clip_mean.device
    features = model.stage1.explainer_features(rgb, mask, model.stage1.config.explainer.alpha).to(device)
    prompt = model.explainer.prompt(features, evidence_prompt(evidence))
    text = compose_explanation(label, evidence, lambda so_far: model.explainer.continue_line(prompt, so_far))
    problems = explanation_problems(text, label, evidence["region"])
    evidence["explanation_check"] = problems or "consistent with the class and the region"
    if problems:
        text += "\n\n(Inconsistent explanation: " + "; ".join(problems) + ". Rely on the evidence numbers.)"
    return text


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
        "IFDL-VLM classifies the whole image as real, fully synthetic or tampered, and only an "
        "image classified tampered gets a mask. The score is 1 − P(real), calibrated on synthetic "
        "validation data: fully synthetic counts as manipulated, and the class follows the score "
        "(real below 0.5), so the two never disagree. A tampered class always has a region: when "
        "no pixel passes the threshold, the threshold is lowered to half the map's peak and the "
        "result says so. In the explanation, the region, its size and the noise and JPEG error "
        "levels inside vs outside it (grey levels) are measurements; the kind of edit and what it "
        "changed are a small language model's guess from the image. Noise and error levels also "
        "differ between textured and flat content, so a mismatch is a hint, not proof."
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
        """Stage 1 only: the explainer (a language model, ~0.6 GB) is added by
        `_load_explanations` when an explanation is first asked for."""
        from engines.ifdl_vlm.train import load_stage1

        weights = self.trained_weights()
        config: IFDLConfig = self.trained_config(weights)
        store = get_store()
        self._weights_sha256 = {config.sam: file_sha256(store.path(config.sam)), weights.name: file_sha256(weights)}
        if config.vision.backbone is not None:
            self._weights_sha256[config.vision.backbone] = file_sha256(store.path(config.vision.backbone))
        return IFDLVLMModel(load_stage1(config, weights), None).to(self.device).eval()

    def _load_explanations(self, model: IFDLVLMModel) -> None:
        """The stage-2 explainer, when the weights have one."""
        from engines.ifdl_vlm.explainer_train import load_explainer

        weights = self.trained_weights()
        _, explainer_tensors = split_weights(weights)
        if not explainer_tensors:
            return
        config: IFDLConfig = model.stage1.config
        explainer = load_explainer(config, model.stage1.explainer_dim)
        load_part(explainer, explainer.trainable_state_dict(), explainer_tensors, str(weights))
        explainer.language_model.merge_adapter()  # inference only: LoRA folded into q/v, no extra matmuls
        model.explainer = explainer.to(self.device).eval()
        lm_path = get_store().path(config.explainer.language_model)
        self._weights_sha256[config.explainer.language_model] = file_sha256(lm_path)

    def _run(self, model: IFDLVLMModel, rgb: np.ndarray, explain: bool = True) -> RawOutput:
        config: IFDLConfig = model.stage1.config
        height, width = rgb.shape[:2]
        images = to_square_input(rgb, config.vision.image_size).to(self.device)
        probabilities, patches, logits = model.stage1.class_probabilities(images)
        probabilities = probabilities[0].cpu()
        raw_score = float(manipulation_score(probabilities))
        label = decided_class(probabilities, self.calibrated_score(raw_score))
        heatmap = np.zeros((height, width), np.float32)
        mask, threshold = np.zeros((height, width), bool), self.pixel_threshold
        if label == "tampered":
            sam_images = to_square_input(rgb, config.sam_input_size).to(self.device)
            heatmap = to_original_size(model.stage1.mask_probabilities(sam_images, patches, logits)[0, 0], height, width)
            mask, threshold = flagged_region(heatmap, self.pixel_threshold)
        region_mask = mask if label == "tampered" else None
        evidence = measure_evidence(rgb, region_mask, label)
        evidence["class_probabilities"] = {name: round(float(p), 3) for name, p in zip(CLASS_NAMES, probabilities, strict=True)}
        parameters = {"vision_input": config.vision.image_size, "sam_input": config.sam_input_size,
                      "alpha": config.explainer.alpha, "threshold": threshold}
        if threshold != self.pixel_threshold:
            parameters["threshold_lowered_from"] = self.pixel_threshold
        text = None
        if model.explainer is not None and explain:
            text = explain_image(model, rgb, region_mask, label, evidence)
        parameters["explanations"] = text is not None
        return RawOutput(heatmap=heatmap, score=raw_score, mask=mask, label=label, text=text, evidence=evidence,
                         parameters=parameters)


ENGINE = IFDLVLMEngine
