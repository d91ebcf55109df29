"""IFDL-VLM: stage-1 plumbing, region-aware enhancement, teacher text, evidence, full-size builds,
the explainer on a tiny random LM, and (when shipped weights exist) the real engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engines.backbones.lite_medsam import TINY_CONFIG
from engines.ifdl_vlm.build import build_stage1
from engines.ifdl_vlm.config import COMPACT, FULL, ExplainerConfig, VisionConfig
from engines.training.split import held_out_split
from engines.ifdl_vlm.enhance import aligned_square_inputs, region_aware_features
from engines.ifdl_vlm.evidence import location_words, measure_evidence, region_facts
from engines.ifdl_vlm.teacher import SECTIONS, evidence_prompt, split_sections, teacher_text

TINY_SAM = dataclasses.replace(TINY_CONFIG, encoder=dataclasses.replace(TINY_CONFIG.encoder, image_size=64))
TINY = dataclasses.replace(
    COMPACT,
    vision=VisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                        num_hidden_layers=2, num_attention_heads=2, pretrained=None),
    lite_medsam=TINY_SAM,
    sam_input_size=64,
    classifier_hidden=16,
    prompt_dim=TINY_CONFIG.encoder.out_chans,
    prompt_heads=2,
    explainer=dataclasses.replace(COMPACT.explainer, pooled_grid=2),
)


@pytest.fixture(scope="module")
def tiny_stage1():
    torch.manual_seed(0)
    return build_stage1(TINY)


def test_stage1_shapes_and_trainable_parts(tiny_stage1):
    size = TINY.sam_input_size
    images = torch.rand(3, 3, size, size)
    clip_images = torch.nn.functional.interpolate(images, size=32)
    class_logits, masks = tiny_stage1.forward_from_embeddings(tiny_stage1.vision_inputs(clip_images),
                                                              tiny_stage1.image_embeddings(images))
    assert class_logits.shape == (3, 3)
    assert masks.shape == (3, 1, size, size)
    trainable = {n.split(".")[0] for n, p in tiny_stage1.named_parameters() if p.requires_grad}
    assert trainable == {"vision", "classifier", "prompt_module", "dense_prompt", "mask_decoder"}


def test_class_token_is_taken_before_post_layernorm(tiny_stage1):
    clip_images = torch.rand(2, 3, 32, 32)
    inputs = tiny_stage1.vision_inputs(clip_images)
    tokens = tiny_stage1.vision(pixel_values=inputs).last_hidden_state
    logits, patches = tiny_stage1.classify(inputs)
    assert torch.allclose(logits, tiny_stage1.classifier(tokens[:, 0]))
    assert patches.shape == (2, 16, 32)


def test_prompt_module_gives_one_token_that_depends_on_the_logits(tiny_stage1):
    patches = torch.randn(2, 16, 32)
    logits = torch.randn(2, 3)
    prompt = tiny_stage1.prompt_module(patches, logits)
    assert prompt.shape == (2, 1, TINY.prompt_dim)
    assert not torch.allclose(prompt, tiny_stage1.prompt_module(patches, logits + torch.tensor([5.0, -5.0, 0.0])))


def test_token_vision_reads_a_frozen_backbone_and_prompts_densely():
    """The compact profile's stage 1: pretrained-backbone tokens (frozen, not saved), a trainable
    transformer with a class token, and a dense prompt that starts at zero (SAM's no-mask prompt)."""
    vision = dataclasses.replace(COMPACT.vision, image_size=64, hidden_size=32, intermediate_size=64,
                                 num_attention_heads=2, token_grid=4)
    config = dataclasses.replace(TINY, vision=vision, dense_prompt=True)
    torch.manual_seed(0)
    stage1 = build_stage1(config)
    saved = stage1.trainable_state_dict()
    assert not any(k.startswith("vision.backbone.") for k in saved)
    assert any(k.startswith("vision.layers.") for k in saved) and "dense_prompt.weight" in saved
    assert not any(p.requires_grad for p in stage1.vision.backbone.parameters())
    images = torch.rand(2, 3, 64, 64)
    inputs = stage1.vision_inputs(images)
    assert inputs.shape == (2, 16, stage1.explainer_dim) and not inputs.requires_grad
    logits, patches = stage1.classify(inputs)
    assert logits.shape == (2, 3) and patches.shape == (2, 16, 32)
    sam_images = torch.rand(2, 3, TINY.sam_input_size, TINY.sam_input_size)
    embeddings = stage1.image_embeddings(sam_images)
    with torch.no_grad():
        before = stage1.segment(embeddings, patches, logits)
        stage1.dense_prompt = None
        assert torch.allclose(before, stage1.segment(embeddings, patches, logits))


def test_class_follows_the_score_and_a_tampered_class_always_has_a_region():
    from engines.errors import WorkbenchError
    from engines.ifdl_vlm.decision import decided_class, flagged_region

    probabilities = torch.tensor([0.45, 0.15, 0.40])
    assert decided_class(probabilities, score=0.55) == "tampered"
    assert decided_class(probabilities, score=0.45) == "real"
    assert decided_class(torch.tensor([0.2, 0.5, 0.3]), score=0.8) == "fully synthetic"
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[2:4, 2:4] = 0.3
    heatmap[3, 3] = 0.4
    mask, threshold = flagged_region(heatmap, 0.2)
    assert threshold == 0.2 and mask.sum() == 4
    mask, threshold = flagged_region(heatmap, 0.5)
    assert threshold == pytest.approx(0.2) and mask.sum() == 4 and np.array_equal(mask, heatmap > threshold)
    with pytest.raises(WorkbenchError, match="no region"):
        flagged_region(np.zeros((4, 4), np.float32), 0.5)


def _encoder(seed: int = 0):
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(3, 4, 4, stride=4)
    return lambda x: conv(x).flatten(2).transpose(1, 2)


def test_region_aware_enhancement_math():
    encode = _encoder()
    x = torch.randn(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:12, 4:12] = 0.8
    with torch.no_grad():
        plain = encode(x)
        assert torch.allclose(region_aware_features(encode, x, mask, alpha=1.0), plain)
        assert torch.allclose(region_aware_features(encode, x, torch.ones_like(mask), alpha=0.5), plain)
        assert torch.allclose(region_aware_features(encode, x, None, alpha=0.5), plain)
        binary = (mask > 0.5).float()
        expected = 0.3 * plain + 0.7 * encode(x * binary)
        assert torch.allclose(region_aware_features(encode, x, mask, alpha=0.3), expected, atol=1e-6)


def test_image_and_mask_stay_aligned_on_non_square_images():
    rgb = np.zeros((60, 180, 3), np.uint8)
    mask = np.zeros((60, 180), bool)
    mask[:, 120:] = True
    rgb[mask] = 255
    image, square = aligned_square_inputs(rgb, mask, 30)
    assert image.shape == (1, 3, 30, 30) and square.shape == (1, 1, 30, 30)
    bright = image[0, 0] > 0.5
    assert torch.equal(bright, square[0, 0] > 0.5)
    assert square[0, 0, :, 20:].all() and not square[0, 0, :, :20].any()
    _, no_mask = aligned_square_inputs(rgb, None, 30)
    assert no_mask.min() == 1.0


def test_explainer_features_read_the_penultimate_layer_and_use_the_mask(tiny_stage1):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)
    mask = np.zeros((40, 80), bool)
    mask[:, :40] = True
    image, _ = aligned_square_inputs(rgb, None, 32)
    with torch.no_grad():
        expected = tiny_stage1.hidden_states(tiny_stage1.vision_inputs(image), layer=-2)[:, 1:]
    assert torch.allclose(tiny_stage1.explainer_features(rgb, mask, alpha=1.0), expected, atol=1e-6)
    assert torch.allclose(tiny_stage1.explainer_features(rgb, None, alpha=0.5), expected, atol=1e-6)
    assert not torch.allclose(tiny_stage1.explainer_features(rgb, mask, alpha=0.5), expected, atol=1e-4)


def test_location_words_and_region_numbers():
    mask = np.zeros((90, 120), bool)
    mask[0:30, 0:40] = True
    facts = region_facts(mask)
    assert facts["box_xyxy"] == [0, 0, 40, 30]
    assert facts["area_fraction"] == pytest.approx(1200 / 10800, abs=1e-4)
    assert facts["location"] == "upper left"
    assert location_words((60.0, 45.0), 90, 120) == "center"
    assert location_words((110.0, 80.0), 90, 120) == "lower right"
    assert region_facts(np.zeros((4, 4), bool)) is None


def test_evidence_measures_the_noisier_region(spliced_image):
    rgb, mask = spliced_image
    evidence = measure_evidence(rgb, mask, "tampered")
    assert evidence["region"]["box_xyxy"] == [120, 80, 220, 160]
    assert evidence["region"]["location"] == "center"
    assert evidence["noise_sigma_inside"] > 2 * evidence["noise_sigma_outside"]
    whole = measure_evidence(rgb, None, "real")
    assert whole["region"] is None and "noise_sigma_image" in whole


def test_teacher_text_has_all_sections_and_names_the_region(spliced_image):
    rgb, mask = spliced_image
    evidence = measure_evidence(rgb, mask, "tampered")
    text = teacher_text({"edit_type": "splice", "params": {}}, evidence)
    sections = split_sections(text)
    assert list(sections) == list(SECTIONS) and all(sections.values())
    assert "center" in sections["Areas"] and "(120, 80) to (220, 160)" in sections["Areas"]
    inside, outside = evidence["noise_sigma_inside"], evidence["noise_sigma_outside"]
    assert f"noise {inside:.1f} inside vs {outside:.1f} outside (higher)" in sections["Visual inconsistencies"]
    assert "splicing" in sections["Type"] and "center" in sections["Summary"]
    assert "center" in evidence_prompt(evidence) and "splic" not in evidence_prompt(evidence)
    authentic = split_sections(teacher_text({"edit_type": "authentic"}, measure_evidence(rgb, None, "real")))
    assert all(authentic.values()) and "authentic" in authentic["Summary"]


def test_both_stages_hold_out_the_same_samples():
    from engines.training.cached import CachedSegmentationTrainer

    class Cache:
        def __len__(self):
            return 50

    class Trainer(CachedSegmentationTrainer):
        def forward(self, tensors, generator):
            raise NotImplementedError

        def loss_fn(self, logits, target):
            raise NotImplementedError

        def export(self, path):
            raise NotImplementedError

    reference = Trainer(torch.nn.Linear(1, 1), Cache(), seed=3)
    train, validation = held_out_split(50, seed=3)
    assert validation == reference.validation_indices and train == reference.train_indices.tolist()


def test_full_profile_builds_at_full_size_on_meta():
    from accelerate import init_empty_weights

    from engines.ifdl_vlm.build import build_llava

    with init_empty_weights():
        stage1 = build_stage1(FULL)
        llava = build_llava()
    vision = sum(p.numel() for p in stage1.vision.parameters())
    assert 300e6 < vision < 306e6  # CLIP ViT-L/14 vision tower: 303M
    assert stage1.classifier[0].in_features == 1024 and stage1.classifier[0].out_features == 512
    decoder = sum(p.numel() for p in stage1.mask_decoder.parameters())
    assert 3.9e6 < decoder < 4.2e6  # SAM's mask decoder: 4.06M
    image_encoder = sum(p.numel() for p in stage1.image_encoder.parameters())
    assert 630e6 < image_encoder < 640e6  # SAM ViT-H image encoder: 632M
    total = sum(p.numel() for p in llava.parameters())
    assert 13.2e9 < total < 13.5e9  # LLaVA-1.5-13B


def _tiny_language_model():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(["Type: splice. Areas: upper left region. Summary: tampered."], trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|im_end|>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(wrapped), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2))
    return model, wrapped


def test_explainer_trains_only_projector_and_lora_and_generates():
    from engines.ifdl_vlm.explainer import Explainer

    model, tokenizer = _tiny_language_model()
    config = ExplainerConfig(pooled_grid=2, lora_rank=4, lora_alpha=8, lora_targets=("q_proj", "v_proj"),
                             max_line_tokens=8)
    explainer = Explainer(config, vision_dim=12, language_model=model, tokenizer=tokenizer)
    trainable = explainer.trainable_state_dict()
    assert trainable and all(k.startswith("projector.") or "lora_" in k for k in trainable)
    features = torch.randn(2, 16, 12)
    assert explainer.visual_tokens(features).shape == (2, 4, 32)
    loss = explainer.loss(features, ["Detector: tampered.", "Detector: real."], ["Type: splice.", "Type: none."])
    loss.backward()
    assert torch.isfinite(loss)
    assert explainer.projector[0].weight.grad is not None
    line = explainer.continue_line(explainer.prompt(features[:1], "Detector: tampered."), "Type:")
    assert isinstance(line, str) and "\n" not in line


def _shipped_engine():
    """The process's shared instance: its models load once for every test that uses it."""
    from engines.catalog import get_engine
    from engines.ifdl_vlm.engine import IFDLVLMEngine

    weights = IFDLVLMEngine.shipped_weights("compact")
    if weights is None or not weights.is_file():
        pytest.skip("no shipped IFDL-VLM weights")
    return get_engine("ifdl_vlm")


def test_missing_weights_name_the_training_commands(tmp_path):
    from engines.errors import WeightsError
    from engines.ifdl_vlm.engine import IFDLVLMEngine

    with pytest.raises(WeightsError, match="--stage explainer"):
        IFDLVLMEngine("compact", device="cpu", weights=tmp_path / "missing.safetensors").load()


def test_an_engine_loaded_without_explanations_leaves_the_language_model_out(spliced_image):
    """Batch workers and evaluations write no text: they must not hold the ~0.6 GB language model.
    The shipped weights also store a retired config field (`max_new_tokens`) and still load."""
    from engines.ifdl_vlm.engine import IFDLVLMEngine

    rgb, _ = spliced_image
    shared = _shipped_engine()
    fresh = IFDLVLMEngine("compact", device="cpu")
    model = fresh.load(explanations=False)
    analysis = fresh.analyze(rgb, explain=False)
    language_model = fresh.config.explainer.language_model
    assert model.explainer is None and analysis.text is None
    assert language_model not in analysis.provenance.weights
    assert language_model in shared.analyze(rgb).provenance.weights


@pytest.mark.slow
def test_shipped_engine_never_contradicts_itself_on_50_casia_images():
    """Class, score, mask and written explanation agree on 25 tampered and 25 authentic CASIA v1
    images, as the check every explanation passes says and as recomputed here."""
    from engines.data.datasets import open_dataset
    from engines.ifdl_vlm.explanation_check import explanation_problems
    from engines.settings import get_settings

    casia = get_settings().benchmarks_dir / "casia1"
    if not casia.is_dir():
        pytest.skip("CASIA v1 is not in the shared folder")
    engine = _shipped_engine()
    labels = set()
    for sample in open_dataset(casia).subset(50):
        result = engine.analyze(str(sample.image))
        region = result.evidence["region"]
        assert explanation_problems(result.text, result.label, region) == [], sample.image.name
        assert result.evidence["explanation_check"] == "consistent with the class and the region"
        assert (result.label == "tampered") == bool(result.mask.any()) == (region is not None)
        assert (result.label == "real") == (result.score < 0.5)
        labels.add(result.label)
    assert "tampered" in labels and "real" in labels


def test_composed_explanations_agree_with_class_and_region(spliced_image):
    """Measured sections come from the evidence; the model's lines are kept only when they name a
    kind of edit it was trained on, so no class gets a contradicting story."""
    from engines.ifdl_vlm.compose import compose_explanation
    from engines.ifdl_vlm.explanation_check import explanation_problems

    rgb, mask = spliced_image
    tampered = measure_evidence(rgb, mask, "tampered")
    asked = []

    def model(lines):
        def write_line(so_far):
            asked.append(so_far)
            return lines[len(asked) - 1]
        return write_line

    text = compose_explanation("tampered", tampered, model(["splicing from another photo", "content pasted from a different photograph."]))
    sections = split_sections(text)
    assert sections["Type"] == "splicing from another photo" and sections["Summary"] == "Tampered: the center region was pasted from another photo."
    assert asked[0] == "Type:" and asked[1].endswith("Tampered content:") and "(120, 80) to (220, 160)" in asked[1]
    assert explanation_problems(text, "tampered", tampered["region"]) == []
    asked.clear()
    text = compose_explanation("tampered", tampered, model(["none", "all content is generated"]))
    sections = split_sections(text)
    assert sections["Type"] == "manipulation" and sections["Tampered content"] == "the region's content was altered"
    assert explanation_problems(text, "tampered", tampered["region"]) == []
    asked.clear()
    text = compose_explanation("tampered", tampered, model(["local retouching", "an object's colour was changed in place"]))
    assert split_sections(text)["Tampered content"] == "an object's colour was changed in place"
    for label in ("real", "fully synthetic"):
        evidence = measure_evidence(rgb, None, label)
        text = compose_explanation(label, evidence, lambda so_far: pytest.fail("no model line for this class"))
        assert explanation_problems(text, label, None) == []
    with pytest.raises(ValueError):
        compose_explanation("tampered", measure_evidence(rgb, None, "tampered"), model([]))


def test_the_explanation_check_catches_each_contradiction(spliced_image):
    from engines.ifdl_vlm.explanation_check import explanation_problems

    rgb, mask = spliced_image
    region = measure_evidence(rgb, mask, "tampered")["region"]
    story = teacher_text({"edit_type": "splice", "params": {}}, measure_evidence(rgb, mask, "tampered"))
    authentic = teacher_text({"edit_type": "authentic"}, measure_evidence(rgb, None, "real"))
    assert explanation_problems(story, "tampered", region) == []
    assert any("describes an edit" in p for p in explanation_problems(story, "real", None))
    assert any("region is flagged" in p for p in explanation_problems(authentic, "real", region))
    assert any("does not name an edit" in p for p in explanation_problems(story.replace("splicing from another photo", "none"), "tampered", region))
    assert explanation_problems(authentic, "tampered", None) == ["the class is tampered but no region is flagged"]
    assert any("Summary section is missing" in p for p in explanation_problems(story.rsplit("\n", 1)[0], "tampered", region))
    assert any("fully synthetic" in p for p in explanation_problems(story, "fully synthetic", None))
