"""Detective SAM model code: parameter counts, checkpoint layout, streams, caching, shift maps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from engines.backbones.lite_medsam import TINY_CONFIG
from engines.detective_sam.build import (
    build_detective_sam,
    load_detective_sam_weights,
)
from engines.detective_sam.config import COMPACT, FULL, DetectiveSAMConfig, PerturbationConfig
from engines.detective_sam.import_official import config_from_params, import_official_checkpoint
from engines.detective_sam.model import DetectiveSAM, feature_name
from engines.store.trained_weights import read_trained_config
from engines.errors import ImageInputError, WeightsError, WorkbenchError
from engines.data.perturb_torch import blur_tensor, jpeg_tensor, noise_tensor
from engines.store.model_store import load_state_dict

PUBLISHED_KEYS = (
    "encoder.trunk.patch_embed.proj.weight",
    "encoder.neck.convs.0.conv.weight",
    "decoder.conv_s0.weight",
    "decoder.conv_s1.weight",
    "decoder.transformer.layers.0.self_attn.q_proj.weight",
    "sam_prompt_encoder.mask_downscaling.0.weight",
    "no_mem_embed",
    "adapters.mlps_tune.0.weight",
    "adapters.mlps_bottleneck.2.0.weight",
    "adapters.mlp_up.1.bias",
    "mask_adapter.feature_fusion.att_conv.0.0.weight",
    "mask_adapter.feature_fusion.proj_conv.2.0.weight",
    "mask_adapter.feature_fusion.fuse_project.0.weight",
    "mask_adapter.coarse_processor.coarse_down.0.weight",
    "mask_adapter.coarse_processor.pos_embed_conv.weight",
    "mask_adapter.coarse_processor.feat_proj.0.weight",
    "mask_adapter.coarse_processor.transformer_encoder.layers.1.linear1.weight",
    "mask_adapter.coarse_processor.transformer_out.0.weight",
    "mask_adapter.coarse_processor.residual_gate_conv.3.weight",
    "mask_adapter.fine_processor.feature_refinement.3.weight",
    "mask_adapter.fine_processor.coarse_head.weight",
    "mask_adapter.fine_processor.uncertainty_head.weight",
    "mask_adapter.spatial_gate.0.weight",
    "mask_adapter.refine_head.conv1.weight",
    "mask_adapter.refine_head.conv3.bias",
)
RANDOMLY_INITIALISED_KEYS = (
    "encoder.trunk.blocks.0.attn.qkv.weight",
    "decoder.conv_s0.weight",
    "adapters.mlps_tune.0.weight",
    "mask_adapter.refine_head.conv1.weight",
)

TINY = replace(
    COMPACT,
    profile="tiny",
    input_size=64,
    scale_channels=(32, 16, 24),
    hidden_dim=16,
    prompt_base_resolution=32,
    coarse_downscale=4,
    fusion_attention_reduction=4,
    attention_dim=8,
    attention_heads=2,
    lite_medsam=replace(TINY_CONFIG, encoder=replace(TINY_CONFIG.encoder, image_size=64)),
)
"""The compact code path on a few-thousand-parameter LiteMedSAM: 64 px in, 16² embedding."""


def _trainable(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _images(batch: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def full_model() -> DetectiveSAM:
    torch.manual_seed(0)
    return build_detective_sam("full")


@pytest.fixture(scope="module")
def tiny_model() -> DetectiveSAM:
    torch.manual_seed(0)
    return build_detective_sam(TINY)


@pytest.fixture(scope="module")
def official_checkpoint(tmp_path_factory, full_model) -> Path:
    """A release-shaped checkpoint: {"model": state dict} .pth beside its _params.yaml."""
    folder = tmp_path_factory.mktemp("release")
    path = folder / "model_epoch22_batch999_score1.1114.pth"
    torch.save({"model": full_model.state_dict()}, path)
    params = {
        "img_size": 512,
        "prompt_dim": 64,
        "downscale": 16,
        "dropout_rate": 0.15,
        "perturbation_type": "gaussian_blur/gaussian_noise",
        "perturbation_intensity": 0.75,
        "sam_config_file": "sam2.1_hiera_b+.yaml",
        "sam_checkpoint": "sam2configs/sam2.1_hiera_base_plus.pt",
    }
    (folder / "model_epoch22_batch999_score1.1114_params.yaml").write_text(yaml.safe_dump(params))
    return path


def test_full_profile_has_the_papers_trainable_parameter_counts(full_model):
    assert _trainable(full_model.adapters) == 80_608
    assert _trainable(full_model.mask_adapter) == 887_317
    assert _trainable(full_model) == 967_925
    for name in ("encoder", "decoder", "sam_prompt_encoder"):
        assert _trainable(getattr(full_model, name)) == 0
    assert not full_model.no_mem_embed.requires_grad


def test_full_state_dict_has_published_names_and_reloads_strictly(full_model, official_checkpoint):
    original = full_model.state_dict()
    assert set(PUBLISHED_KEYS) <= set(original)
    torch.manual_seed(1)
    reloaded = build_detective_sam("full", checkpoint=official_checkpoint).state_dict()
    assert set(reloaded) == set(original)
    for key in RANDOMLY_INITIALISED_KEYS:
        assert torch.equal(reloaded[key], original[key]), key


def test_full_forward_at_512_gives_a_full_size_mask(full_model):
    with torch.no_grad():
        features = full_model.encode_streams(_images(1, 512), _seeded(0))
        logits = full_model.forward_from_features(features)
    assert features[feature_name("noise", 0)].shape == (1, 256, 32, 32)
    assert features[feature_name("blur", 1)].shape == (1, 32, 128, 128)
    assert features[feature_name("original", 2)].shape == (1, 64, 64, 64)
    assert logits.shape == (1, 1, 512, 512)
    assert torch.isfinite(logits).all()


def test_compact_profile_builds_with_a_small_trainable_part():
    model = build_detective_sam("compact")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("adapters.", "mask_adapter.")) for n in trainable)
    assert _trainable(model) < 1_500_000
    assert model.sam_prompt_encoder.mask_input_size == (128, 128)  # 4× the 32² embedding
    assert model.config.coarse_grid == 8


def test_compact_forward_shapes(tiny_model):
    with torch.no_grad():
        features = tiny_model.encode_streams(_images(), _seeded(0))
        logits = tiny_model.forward_from_features(features)
    expected = {0: (32, 16), 1: (16, 32), 2: (24, 16)}
    assert len(features) == 9
    for stream in ("original", "blur", "noise"):
        for scale, (channels, side) in expected.items():
            assert features[feature_name(stream, scale)].shape == (2, channels, side, side)
    assert logits.shape == (2, 1, 64, 64)


def test_wrong_input_size_is_refused(tiny_model):
    with pytest.raises(ImageInputError, match="64×64"):
        tiny_model(_images(size=48))


def test_frozen_parts_get_no_gradient_and_keep_their_statistics(tiny_model):
    statistics = {k: v.clone() for k, v in tiny_model.encoder.state_dict().items() if "running" in k}
    tiny_model.train()
    try:
        assert tiny_model.mask_adapter.training and not tiny_model.encoder.training
        tiny_model(_images(), _seeded(0)).sigmoid().mean().backward()
        current = tiny_model.encoder.state_dict()
        assert statistics and all(torch.equal(v, current[k]) for k, v in statistics.items())
        frozen = [p for n, p in tiny_model.named_parameters() if not p.requires_grad]
        trainable = [p for p in tiny_model.parameters() if p.requires_grad]
        assert frozen and all(p.grad is None for p in frozen)
        assert all(p.grad is not None for p in trainable)
        assert any(p.grad.abs().sum() > 0 for p in trainable)
    finally:
        tiny_model.zero_grad(set_to_none=True)
        tiny_model.eval()


def test_streams_are_blur_and_seeded_noise_of_the_original(tiny_model):
    images = _images()
    settings = TINY.perturbation
    first = tiny_model.perturb(images, _seeded(7))
    again = tiny_model.perturb(images, _seeded(7))
    other = tiny_model.perturb(images, _seeded(8))
    assert torch.equal(first["noise"], again["noise"])
    assert not torch.equal(first["noise"], other["noise"])
    assert torch.equal(first["blur"], other["blur"])
    blurred = blur_tensor(images, settings.blur_sigma, settings.blur_kernel)
    assert torch.equal(first["blur"], blurred)
    # The noise stream perturbs the original, not the blurred image.
    assert torch.equal(first["noise"], noise_tensor(images, settings.noise_std, _seeded(7)))
    assert first["noise"].min() >= 0 and first["noise"].max() <= 1


def test_jpeg_stream_replaces_noise_and_names_its_features_and_shift_maps():
    torch.manual_seed(0)
    config = replace(TINY, perturbation=PerturbationConfig(streams=("blur", "jpeg"), jpeg_quality=30))
    model = build_detective_sam(config).eval()
    images = _images()
    streams = model.perturb(images)
    assert set(streams) == {"original", "blur", "jpeg"}
    assert torch.equal(streams["jpeg"], jpeg_tensor(images, 30))
    with torch.no_grad():
        features = model.encode_streams(images)
        logits = model.forward_from_features(features)
    assert feature_name("jpeg", 0) in features and feature_name("noise", 0) not in features
    assert logits.shape == (2, 1, 64, 64)
    assert {name for name in model.shift_maps(features) if name.startswith("shift_jpeg_")}
    assert DetectiveSAMConfig.from_json(config.to_json()).perturbation.streams == ("blur", "jpeg")


def test_jpeg_tensor_loses_more_at_lower_quality_and_keeps_range():
    smooth = torch.nn.functional.interpolate(_images(1, 16), size=64, mode="bilinear")
    errors = {q: (jpeg_tensor(smooth, q) - smooth).abs().mean().item() for q in (10, 50, 95)}
    assert errors[10] > errors[50] > errors[95] > 0
    assert errors[95] < errors[10] / 2
    out = jpeg_tensor(smooth, 10)
    assert out.shape == smooth.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("streams", [("blur", "blur"), ("blur", "sharpen"), ("jpeg",)])
def test_perturbation_streams_must_be_two_known_different_kinds(streams):
    with pytest.raises(WorkbenchError, match="two different perturbed streams"):
        PerturbationConfig(streams=streams)


def test_cached_features_give_the_same_logits_as_forward(tiny_model):
    images = _images()
    with torch.no_grad():
        direct = tiny_model(images, _seeded(3))
        cached = tiny_model.forward_from_features(tiny_model.encode_streams(images, _seeded(3)))
        reseeded = tiny_model(images, _seeded(4))
    assert torch.equal(direct, cached)
    assert not torch.equal(direct, reseeded)


def test_shift_maps_are_normalised_and_find_the_shifted_region(tiny_model):
    with torch.no_grad():
        features = tiny_model.encode_streams(_images(), _seeded(0))
    maps = tiny_model.shift_maps(features)
    assert set(maps) == {f"shift_{p}_s{s}" for p in ("blur", "noise") for s in range(3)}
    for scale in range(3):
        side = features[feature_name("original", scale)].shape[-1]
        for stream in ("blur", "noise"):
            shift = maps[f"shift_{stream}_s{scale}"]
            assert shift.shape == (2, side, side)
            assert torch.allclose(shift.amin(dim=(1, 2)), torch.zeros(2))
            assert torch.allclose(shift.amax(dim=(1, 2)), torch.ones(2))

    synthetic = {name: torch.zeros(1, 4, 8, 8) for name in features}
    synthetic[feature_name("blur", 0)][..., 2:4, 5:7] = 3.0
    maps = tiny_model.shift_maps(synthetic)
    assert maps["shift_blur_s0"][0, 2:4, 5:7].eq(1).all()
    assert maps["shift_blur_s0"].sum() == 4
    assert maps["shift_noise_s0"].eq(0).all()


def test_adapter_only_checkpoint_loads_onto_the_backbone(tiny_model, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "adapters.safetensors"
    save_file(tiny_model.trainable_state_dict(), str(path))
    torch.manual_seed(5)
    loaded = build_detective_sam(TINY, checkpoint=path)
    key = "mask_adapter.refine_head.conv1.weight"
    assert torch.equal(loaded.state_dict()[key], tiny_model.state_dict()[key])


def test_mismatched_weights_name_missing_and_unexpected_keys(full_model):
    state = dict(full_model.state_dict())
    del state["mask_adapter.spatial_gate.0.weight"]
    state["mask_adapter.extra_head.weight"] = torch.zeros(1)
    state["adapters.mlp_up.0.bias"] = torch.zeros(3)
    with pytest.raises(WeightsError) as caught:
        load_detective_sam_weights(full_model, state, "bad.pth")
    message = str(caught.value)
    assert "1 missing keys (mask_adapter.spatial_gate.0.weight)" in message
    assert "1 unexpected keys (mask_adapter.extra_head.weight)" in message
    assert "adapters.mlp_up.0.bias (3,) vs (256,)" in message


def test_import_official_checkpoint_writes_a_safetensors_copy(
    full_model, official_checkpoint, tmp_path
):
    output = tmp_path / "detective_sam.safetensors"
    imported = import_official_checkpoint(official_checkpoint, output)
    assert imported.path == output and output.is_file() and len(imported.source_sha256) == 64
    assert imported.config.perturbation.blur_sigma == pytest.approx(1.5)
    assert imported.config.perturbation.noise_std == pytest.approx(0.15)
    assert imported.config.dropout == pytest.approx(0.15)
    assert read_trained_config(imported.path, "detective_sam", DetectiveSAMConfig) == imported.config
    copied = load_state_dict(imported.path)
    original = full_model.state_dict()
    assert set(copied) == set(original)
    for key in RANDOMLY_INITIALISED_KEYS:
        assert torch.equal(copied[key], original[key]), key


def test_import_refuses_a_checkpoint_with_other_keys(official_checkpoint, tmp_path):
    release = tmp_path / "other.pth"
    torch.save({"model": {"image_encoder.trunk.pos_embed": torch.zeros(1)}}, release)
    (tmp_path / "other_params.yaml").write_text(
        official_checkpoint.with_name(official_checkpoint.stem + "_params.yaml").read_text()
    )
    expected = r"missing keys \(adapters\..*unexpected keys \(image_encoder"
    with pytest.raises(WeightsError, match=expected):
        import_official_checkpoint(release, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_import_requires_the_params_sidecar_and_supported_settings(tmp_path):
    release = tmp_path / "lonely.pth"
    release.write_bytes(b"")
    with pytest.raises(WeightsError, match="lonely_params.yaml"):
        import_official_checkpoint(release)
    with pytest.raises(WeightsError, match="jpeg_compression"):
        config_from_params(
            {"perturbation_type": "gaussian_blur+jpeg_compression", "perturbation_intensity": 0.75},
            tmp_path / "p.yaml",
        )


def test_configs_round_trip_through_json():
    for config in (FULL, TINY, replace(FULL, perturbation=PerturbationConfig.from_intensity(0.5))):
        assert DetectiveSAMConfig.from_json(config.to_json()) == config
