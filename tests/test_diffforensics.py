"""DiffForensics: edge cues, losses, encoders, model stages, weights, trainers and the engine."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engines.store.trained_weights import load_weights, read_calibration, read_metadata, read_trained_config
from engines.data.datasets import open_dataset
from engines.diffforensics.build import (
    NOISE_KEY,
    STAGE_KEY,
    build_diffforensics,
    load_diffforensics_weights,
    save_diffforensics_weights,
    saved_keys,
)
from engines.diffforensics.config import COMPACT, FULL, DiffForensicsConfig, LossConfig, SegformerSpec
from engines.diffforensics.edge_cue import EdgeCueModule, edge_cues
from engines.backbones.efficientnet_lite import EfficientNetLite, load_efficientnet_lite
from engines.diffforensics.encoder import SegformerEncoder
from engines.diffforensics.engine import EDGE_MAP_NAMES, DiffForensicsEngine
from engines.diffforensics.losses import (
    classification_loss,
    diffforensics_loss,
    edge_label,
    edge_loss,
    segmentation_loss,
)
from engines.diffforensics.model import PRETRAINED_PREFIXES, DiffForensics
from engines.diffforensics.native import native_forward
from engines.diffforensics.pretrain import PhotoCrops, PretrainTrainer
from engines.diffforensics.train import make_trainer
from engines.errors import ImageInputError, WeightsError
from engines.forge.config import ForgeConfig
from engines.forge.stream import ForgeSource
from engines.settings import get_settings
from engines.store.model_store import get_store, load_state_dict
from engines.training.loop import TrainSettings, fit

TINY = replace(COMPACT, profile="tiny", input_size=64, decoder_channels=(16, 16, 8),
               full_resolution_channels=8, time_embedding_dim=16, detection_hidden=8,
               encoder_weights=None)
"""The compact classes (a random EfficientNet-Lite0) with narrow decoder widths at 64 px."""
TINY_SEGFORMER = replace(
    TINY, encoder="segformer", encoder_channels=(8, 16, 24, 32),
    segformer=SegformerSpec(depths=(1, 1, 1, 1), hidden_sizes=(8, 16, 24, 32),
                            num_attention_heads=(1, 1, 1, 1)),
)
LOSS = LossConfig()


def _optional_weight(name: str) -> Path | None:
    return get_store().find(name)


needs_efficientnet = pytest.mark.skipif(_optional_weight("efficientnet_lite0") is None,
                                        reason="efficientnet_lite0 weights not in the model store")


def _tiny_model(config=TINY, seed: int = 0) -> DiffForensics:
    torch.manual_seed(seed)
    return build_diffforensics(config, pretrained_encoder=False)


def _images(batch: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


# Edge Cue Enhancement Module -----------------------------------------------------------------


def test_edge_cues_follow_eq2_on_hand_made_images():
    step = torch.zeros(1, 1, 5, 6)
    step[..., 3:] = 1.0  # a vertical step: |H∗d| is a constant column, so |V∗·| vanishes
    assert torch.equal(edge_cues(step), torch.zeros_like(step))
    square = torch.zeros(1, 1, 6, 6)
    square[..., 2:4, 2:4] = 1.0
    expected = torch.zeros(6, 6)
    # |H∗d| is 1 in columns 1 and 3 of rows 2-3; its row differences are 1 in rows 1 and 3.
    expected[1, 1] = expected[1, 3] = expected[3, 1] = expected[3, 3] = 1.0
    assert torch.equal(edge_cues(square)[0, 0], expected)


def test_edge_cues_equal_the_two_difference_convolutions():
    d = torch.randn(2, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    kernel_h = torch.tensor([1.0, -1.0]).view(1, 1, 1, 2).repeat(3, 1, 1, 1)
    kernel_v = kernel_h.transpose(-1, -2)
    h = torch.nn.functional.conv2d(torch.nn.functional.pad(d, (0, 1, 0, 0), mode="replicate"), kernel_h, groups=3).abs()
    v = torch.nn.functional.conv2d(torch.nn.functional.pad(h, (0, 0, 0, 1), mode="replicate"), kernel_v, groups=3).abs()
    assert torch.allclose(edge_cues(d), v, atol=1e-6)


def test_edge_cue_module_feeds_d_minus_g_to_a_3x3_conv_and_upsamples():
    module = EdgeCueModule(4)
    d = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    logits = module(d, (32, 32))
    assert logits.shape == (2, 1, 32, 32) and module.conv.kernel_size == (3, 3)

    def upsampled(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(module.conv(x), size=(32, 32), mode="bilinear")

    assert torch.allclose(logits, upsampled(d - edge_cues(d)), atol=1e-6)
    assert not torch.allclose(logits, upsampled(d), atol=1e-3)


# Losses --------------------------------------------------------------------------------------


def _square_mask(size: int = 32) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., 8:24, 8:24] = 1.0
    return mask


def test_edge_label_is_a_band_around_the_mask_boundary():
    band = edge_label(_square_mask(), radius=2)[0, 0]  # the square spans rows/columns 8..23
    assert band[16, 5:11].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # 2 px out, 2 px in
    assert band[16, 21:27].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert band[16, 16] == 0 and band[0, 0] == 0 and int(band[16].sum()) == 8
    assert edge_label(torch.zeros(1, 1, 16, 16), 2).sum() == 0
    assert edge_label(torch.ones(1, 1, 16, 16), 2).sum() == 0  # the image border is no edge


def test_segmentation_loss_rewards_perfect_and_punishes_wrong_masks():
    mask = _square_mask()
    perfect = segmentation_loss((mask * 2 - 1) * 20, mask, LOSS)
    inverted = segmentation_loss((1 - mask * 2) * 20, mask, LOSS)
    assert perfect < 0.01 and inverted > 1.5
    uniform = segmentation_loss(torch.zeros_like(mask), mask, LOSS)
    tampered_share = mask.mean()
    wbce = np.log(2) * (2.0 * tampered_share + 0.5 * (1 - tampered_share))
    dice = 1 - (2 * 0.5 * mask.sum() + 1) / (0.25 * mask.numel() + mask.sum() + 1)
    assert torch.isclose(uniform, 0.1 * wbce + 0.9 * dice, atol=1e-5)


def test_edge_and_classification_losses_use_the_papers_weights():
    edges = edge_label(_square_mask(), 2)
    right = [(edges * 2 - 1) * 20] * 3
    wrong = [(1 - edges * 2) * 20] * 3
    assert edge_loss(right, edges, LOSS) < 0.01
    assert torch.isclose(edge_loss(wrong, edges, LOSS), torch.tensor(1.75), atol=0.01)
    labels = torch.tensor([1.0, 0.0])
    assert classification_loss(torch.tensor([20.0, -20.0]), labels, LOSS) < 1e-6
    both_wrong = classification_loss(torch.tensor([-20.0, 20.0]), labels, LOSS)
    assert torch.isclose(both_wrong, torch.tensor((0.7 * 20 + 0.3 * 20) / 2), rtol=1e-3)


def test_total_loss_is_alpha_seg_plus_edge_and_beta_clf():
    model = _tiny_model()
    mask = torch.zeros(2, 1, 64, 64)
    mask[0, :, 10:30, 20:40] = 1.0
    total, logs = diffforensics_loss(model(_images()), mask, torch.tensor([1.0, 0.0]), LOSS)
    expected = 0.8 * (logs["seg"] + logs["edge"]) + 0.1 * logs["clf"]
    assert total.item() == pytest.approx(expected, rel=1e-5)


# Encoders ------------------------------------------------------------------------------------


@needs_efficientnet
def test_efficientnet_lite0_loads_the_offline_weights_strictly():
    path = get_store().path("efficientnet_lite0")
    state = load_state_dict(path)
    classifier = EfficientNetLite("efficientnet_lite0")
    load_efficientnet_lite(classifier, state, str(path))
    assert set(classifier.state_dict()) == set(state)
    features = EfficientNetLite("efficientnet_lite0", features_only=True)
    load_efficientnet_lite(features, state, str(path))
    assert torch.equal(features._blocks[15]._project_conv.weight, state["_blocks.15._project_conv.weight"])
    broken = {k: v for k, v in state.items() if not k.startswith("_blocks.3.")}
    with pytest.raises(WeightsError, match="_blocks.3"):
        load_efficientnet_lite(EfficientNetLite("efficientnet_lite0"), broken, "broken.pth")


def test_efficientnet_lite0_pyramid_strides_and_tf_same_padding():
    stages = EfficientNetLite("efficientnet_lite0", features_only=True).eval().forward_stages(torch.zeros(1, 3, 64, 64))
    assert [s.shape[1] for s in stages] == [16, 24, 40, 80, 112, 192, 320]
    assert [s.shape[-1] for s in stages] == [32, 16, 8, 4, 4, 2, 2]
    conv = EfficientNetLite("efficientnet_lite0", features_only=True)._conv_stem
    impulse = torch.zeros(1, 3, 4, 4)
    impulse[0, 0, 0, 0] = 1.0  # TF "SAME", stride 2: no padding on top/left, so (0, 0) is a kernel's top-left tap
    expected = conv.weight[:, 0, 0, 0]
    assert torch.allclose(conv(impulse)[0, :, 0, 0], expected)


def test_full_size_segformer_b2_builds_from_config():
    encoder = SegformerEncoder(FULL.segformer)
    assert 24.0e6 < sum(p.numel() for p in encoder.parameters()) < 24.5e6
    with torch.no_grad():
        features = encoder(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in features] == list(FULL.encoder_channels)
    assert [f.shape[-1] for f in features] == [16, 8, 4, 2]


@pytest.mark.skipif(_optional_weight("segformer_b2_ade") is None, reason="SegFormer-B2 ADE20K weights absent")
def test_full_profile_loads_the_ade20k_segformer():
    model = build_diffforensics(FULL)
    assert isinstance(model.encoder, SegformerEncoder)
    assert tuple(model.encoder.model.config.hidden_sizes) == FULL.encoder_channels


# Model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [TINY, TINY_SEGFORMER], ids=["efficientnet", "segformer"])
def test_forward_shapes_of_both_stages(config):
    model = _tiny_model(config)
    with torch.no_grad():
        output = model(_images())
        noise = model.predict_noise(_images() * 2 - 1, torch.tensor([1, 999]))
    assert output.mask_logits.shape == (2, 1, 64, 64)
    assert output.detection_logits.shape == (2,)
    assert [e.shape for e in output.edge_logits] == [(2, 1, 64, 64)] * 3
    assert noise.shape == (2, 3, 64, 64)
    with pytest.raises(ImageInputError, match="multiples of 32"):
        model(torch.rand(1, 3, 40, 64))


def test_stage_one_trains_only_the_decoder_and_keeps_encoder_statistics():
    model = _tiny_model().set_stage(1).train()
    bn = model.encoder.backbone._bn0
    before = bn.running_mean.clone()
    loss = model.predict_noise(_images() * 2 - 1, torch.tensor([3, 500])).square().mean()
    loss.backward()
    grads = {name for name, p in model.named_parameters() if p.grad is not None}
    assert grads and all(name.startswith(("decoder.", "time_embedding.", "noise_head.")) for name in grads)
    assert torch.equal(bn.running_mean, before) and not bn.training
    assert set(model.trainable_state_dict()) == grads


def test_stage_two_fine_tunes_the_encoder_and_not_the_noise_head():
    model = _tiny_model().set_stage(2).train()
    output = model(_images())
    (output.mask_logits.mean() + output.detection_logits.mean() + sum(e.mean() for e in output.edge_logits)).backward()
    grads = {name.split(".")[0] for name, p in model.named_parameters() if p.grad is not None}
    assert grads == {"encoder", "time_embedding", "decoder", "edge_cues", "localization_head", "detection_head"}
    assert not any(k.startswith("noise_head.") for k in model.trainable_state_dict())


def test_fixed_timestep_is_the_embedding_and_the_image_is_not_noised():
    model = _tiny_model().eval()
    images = _images()
    with torch.no_grad():
        first, second = model(images).mask_logits, model(images).mask_logits
        model.config = replace(TINY, diffusion=replace(TINY.diffusion, fixed_timestep=900))
        late = model(images).mask_logits
    assert torch.equal(first, second)
    assert not torch.allclose(first, late)


# Weights -------------------------------------------------------------------------------------


def test_stage_weights_round_trip_and_mismatches_are_named(tmp_path):
    model = _tiny_model(seed=1)
    path = tmp_path / "stage2.safetensors"
    save_diffforensics_weights(model, path, "simplex")
    metadata, keys = read_metadata(path), saved_keys(path)
    assert metadata[STAGE_KEY] == "2" and metadata[NOISE_KEY] == "simplex"
    assert not any(k.startswith("noise_head.") or "running_mean" in k for k in keys)
    torch.manual_seed(5)
    reloaded = build_diffforensics(TINY, checkpoint=path, pretrained_encoder=False)
    with torch.no_grad():
        a, b = model.eval()(_images()), reloaded(_images())
    assert torch.allclose(a.mask_logits, b.mask_logits, atol=0.05)
    assert torch.allclose(a.detection_logits, b.detection_logits, atol=0.05)

    stage1 = tmp_path / "stage1.safetensors"
    save_diffforensics_weights(_tiny_model(seed=2).set_stage(1), stage1, "gaussian")
    with pytest.raises(WeightsError, match="missing keys"):
        build_diffforensics(TINY, checkpoint=stage1, pretrained_encoder=False)
    target = _tiny_model(seed=3)
    load_diffforensics_weights(target, stage1, PRETRAINED_PREFIXES)
    assert torch.equal(target.decoder.blocks[0].conv1.weight.half().float(),
                       load_weights(stage1)["decoder.blocks.0.conv1.weight"])
    with pytest.raises(WeightsError, match="encoder='efficientnet_lite0'"):
        load_diffforensics_weights(_tiny_model(TINY_SEGFORMER), path, PRETRAINED_PREFIXES)


# Trainers ------------------------------------------------------------------------------------


def _write_dataset(folder: Path, n_tampered: int = 5, n_authentic: int = 3) -> Path:
    rng = np.random.default_rng(0)
    entries = []
    for i in range(n_tampered + n_authentic):
        rgb = rng.integers(0, 255, (72, 80, 3), dtype=np.uint8)
        kind = "tampered" if i < n_tampered else "authentic"
        (folder / kind).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / kind / f"{i}.png"), rgb)
        if i < n_tampered:
            mask = np.zeros((72, 80), np.uint8)
            mask[10 + i:40, 20:50 + i] = 255
            (folder / "masks").mkdir(exist_ok=True)
            cv2.imwrite(str(folder / "masks" / f"{i}.png"), mask)
            entries.append([f"tampered/{i}.png", f"masks/{i}.png"])
        else:
            entries.append([f"authentic/{i}.png", "Negative"])
    (folder / "index.json").write_text(json.dumps(entries))
    return folder


def test_stage_two_trainer_fits_exports_and_reloads(tmp_path, monkeypatch):
    dataset = open_dataset(_write_dataset(tmp_path / "data"))
    stage1 = tmp_path / "stage1.safetensors"
    save_diffforensics_weights(_tiny_model(seed=4).set_stage(1), stage1, "simplex")
    monkeypatch.setenv("FORGERY_CACHE", str(tmp_path / "cache"))
    get_settings.cache_clear()
    try:
        trainer = make_trainer(TINY, dataset, stage1, batch_size=4, seed=0)
        assert len(trainer.cache) == 8 and len(trainer.validation_indices) == 1
        plan = trainer.plan(torch.Generator().manual_seed(0))
        assert sorted(i for b, _ in plan for i in b) == sorted(trainer.train_indices.tolist())
        resumed = list(trainer.batches(0, torch.Generator().manual_seed(0), skip=1))
        assert len(resumed) == len(plan) - 1 and resumed[0]["images"].shape[0] == len(plan[1][0])
        state = fit(trainer, TrainSettings(out_dir=tmp_path / "run", epochs=1, lr=1e-3))
        weights = tmp_path / "run" / "weights.safetensors"
        trainer.export(weights)
    finally:
        get_settings.cache_clear()
    history = state["history"][0]
    assert np.isfinite(history["loss"]) and "val_f1" in history and "val_image_auc" in history
    assert read_metadata(weights)[NOISE_KEY] == "simplex"
    reloaded = build_diffforensics(TINY, checkpoint=weights, pretrained_encoder=False)
    assert torch.allclose(reloaded.localization_head.conv.weight,
                          trainer.model.localization_head.conv.weight, atol=1e-2)


def test_stage_one_trainer_denoises_photo_crops(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        cv2.imwrite(str(photos / f"p{i}.png"), rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
    crops = PhotoCrops(photos, 64)
    assert len(crops) == 3
    batch = crops.crops(np.array([0, 2]), np.random.default_rng(0))
    assert batch.shape == (2, 3, 64, 64) and batch.min() >= -1 and batch.max() <= 1
    trainer = PretrainTrainer(_tiny_model().set_stage(1).train(), crops, crops_per_epoch=4, batch_size=2)
    assert trainer.batches(0, torch.Generator().manual_seed(0)) == trainer.batches(0, torch.Generator().manual_seed(0))
    loss, logs = trainer.loss(123)
    assert loss.requires_grad and logs["mse"] > 0
    assert 0 < trainer.validate()["val_mse"] < 10
    trainer.export(tmp_path / "stage1.safetensors")
    metadata, keys = read_metadata(tmp_path / "stage1.safetensors"), saved_keys(tmp_path / "stage1.safetensors")
    assert metadata[STAGE_KEY] == "1" and metadata[NOISE_KEY] == "simplex"
    assert {k.split(".")[0] for k in keys} == {"time_embedding", "decoder", "noise_head"}


# Engine --------------------------------------------------------------------------------------


@pytest.mark.skipif(not DiffForensicsEngine.shipped_weights("compact").is_file()
                    or _optional_weight("efficientnet_lite0") is None,
                    reason="shipped DiffForensics weights or the EfficientNet-Lite0 file absent")
def test_engine_analyses_with_the_shipped_weights(spliced_image):
    rgb, _ = spliced_image
    engine = DiffForensicsEngine(device="cpu")
    analysis = engine.analyze(rgb)
    assert analysis.heatmap.shape == rgb.shape[:2]
    assert set(analysis.maps) == set(EDGE_MAP_NAMES)
    for values in analysis.maps.values():
        assert values.shape == rgb.shape[:2] and 0 <= values.min() and values.max() <= 1
    assert 0 <= analysis.score <= 1
    assert "compact.safetensors" in analysis.provenance.weights
    assert "efficientnet_lite0" in analysis.provenance.weights
    assert np.array_equal(engine.analyze(rgb).heatmap, analysis.heatmap)


def test_engine_without_weights_says_how_to_train(tmp_path):
    engine = DiffForensicsEngine(device="cpu", weights=tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match="--stage pretrain"):
        engine.load()


# Native resolution, configuration from the weights, on-the-fly training -----------------------


def test_native_forward_keeps_any_image_size_and_tiles_blend_seamlessly():
    model = _tiny_model(replace(TINY, native=True, tile_size=256, tile_overlap=32))
    rgb = np.random.default_rng(0).integers(0, 255, (70, 100, 3), dtype=np.uint8)
    whole = native_forward(model, rgb, torch.device("cpu"))
    assert whole.probability.shape == (70, 100) and [e.shape for e in whole.edges] == [(70, 100)] * 3
    model.config = replace(model.config, tile_size=64, tile_overlap=16)
    tiled = native_forward(model, rgb, torch.device("cpu"))
    assert tiled.probability.shape == (70, 100) and 0 <= tiled.probability.min() <= tiled.probability.max() <= 1
    assert np.abs(tiled.probability - whole.probability).mean() < 0.2


def test_engine_rebuilds_the_configuration_its_weights_were_trained_with(tmp_path):
    """The `train --set` round trip: a changed field reaches analysis and provenance."""
    trained = replace(TINY, native=True, diffusion=replace(TINY.diffusion, fixed_timestep=50))
    path = tmp_path / "w.safetensors"
    save_diffforensics_weights(_tiny_model(trained), path, "none")
    assert read_trained_config(path, "diffforensics", DiffForensicsConfig) == trained
    engine = DiffForensicsEngine(device="cpu", weights=path)
    analysis = engine.analyze(np.random.default_rng(1).integers(0, 255, (50, 90, 3), dtype=np.uint8))
    assert analysis.provenance.parameters["fixed_timestep"] == 50
    assert analysis.provenance.parameters["analysed_at"] == "native resolution"
    assert analysis.heatmap.shape == (50, 90) and "calibration" not in analysis.provenance.parameters


def test_on_the_fly_trainer_exports_a_calibration_the_engine_uses(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(2)
    for i in range(6):
        image = np.full((120, 150, 3), 90, np.uint8) + rng.integers(0, 40, (120, 150, 3), dtype=np.uint8)
        cv2.circle(image, (40 + 10 * i, 60), 25, (200, 40 + 30 * i, 60), -1)
        cv2.imwrite(str(photos / f"p{i}.png"), image)
    source = ForgeSource(photo_dirs=(photos,), samples_per_epoch=8, validation_samples=8, held_out_photos=0.5,
                         workers=0, config=ForgeConfig(size_range=(80, 96), types=("splice", "copy_move", "partial")))
    trainer = make_trainer(replace(TINY, native=True), source, None, batch_size=4, seed=0)
    state = fit(trainer, TrainSettings(out_dir=tmp_path / "run", epochs=1, lr=1e-3))
    assert state["step"] == 2 and "val_image_auc_map_top" in state["history"][0]
    weights = tmp_path / "run" / "weights.safetensors"
    trainer.export(weights)
    calibration = read_calibration(weights)
    assert calibration is not None and calibration.validation["n_images"] >= 6
    engine = DiffForensicsEngine(device="cpu", weights=weights)
    analysis = engine.analyze(np.random.default_rng(3).integers(0, 255, (64, 80, 3), dtype=np.uint8))
    assert analysis.provenance.parameters["threshold"] == calibration.pixel_threshold
    raw = analysis.provenance.parameters["raw_score"]
    assert analysis.score == pytest.approx(calibration.calibrate_score(raw))
