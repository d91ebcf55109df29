"""CLUE: branches, rectified-flow noising, block hooks, LoRA, loss, full-size counts, engine."""

from __future__ import annotations


from dataclasses import replace
from functools import partial

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from engines.backbones.tiny_vit import TinyViT, TinyViTConfig
from engines.clue.build import build_clue, build_clue_skeleton, export_weights
from engines.clue.config import COMPACT, FULL, SD3_VAE, CLUEConfig, LatentBranchConfig, SAMBranchConfig
from engines.training.checkpoints import read_state
from engines.catalog import get_engine
from engines.clue.engine import CLUEEngine
from engines.clue.latent_branch import LatentBranch
from engines.clue.model import LATENT, SAM_PREFIX, clue_loss
from engines.clue.sam_branch import sam_branch
from engines.errors import WeightsError
from engines.settings import get_settings
from engines.store.model_store import get_store
from engines.store.trained_weights import read_trained_config

TINY = CLUEConfig(
    profile="compact",
    latent=LatentBranchConfig(
        autoencoder="taef2",
        input_size=64,
        transformer={"sample_size": 8, "patch_size": 2, "in_channels": 32, "num_layers": 3,
                     "attention_head_dim": 8, "num_attention_heads": 2, "joint_attention_dim": 16,
                     "caption_projection_dim": 16, "pooled_projection_dim": 8, "out_channels": 32,
                     "pos_embed_max_size": 4},
        feature_blocks=(0, 1),
        null_tokens=2,
    ),
    sam=SAMBranchConfig(encoder="lite_medsam", input_size=32, out_channels=32, grid=8,
                        pixel_mean=(0.0, 0.0, 0.0), pixel_std=(1.0, 1.0, 1.0), prefix_stages=3, lora_rank=2,
                        tiny_vit={"embed_dims": (8, 16, 24, 32), "depths": (1, 1, 1, 1),
                                  "num_heads": (1, 2, 2, 4), "out_chans": 32}),
    fusion_dim=16,
    fusion_groups=4,
    localization_dim=8,
    output_size=32,
    probe_dim=4,
)
"""Random-weight plumbing model: 64-px latent input (4×4 tokens), a narrow TinyViT at 32 px (8×8 grid)."""
LITE_MEDSAM_TINY = replace(TINY, sam=replace(TINY.sam, out_channels=256, tiny_vit={}))
"""The same with LiteMedSAM's TinyViT widths, so that the real compact backbones load."""

has_compact_backbones = all(get_store().find(name) is not None for name in ("taef2_encoder", "lite_medsam"))
needs_compact_backbones = pytest.mark.skipif(not has_compact_backbones, reason="TAEF2 / LiteMedSAM weights not found")


def _images(batch: int, config: CLUEConfig = TINY, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, 3, config.latent.input_size, config.latent.input_size, generator=generator),
            torch.rand(batch, 3, config.sam.input_size, config.sam.input_size, generator=generator))


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_clue(TINY, pretrained=False)


def test_shapes_through_each_branch(tiny_model):
    encoded = tiny_model.encode(*_images(2))
    assert encoded[LATENT].shape == (2, 32, 8, 8)
    assert encoded[SAM_PREFIX].shape == (2, 32, 8, 8)  # TinyViT's last-stage input at 32 px
    levels = tiny_model.latent(encoded[LATENT], torch.Generator().manual_seed(0))
    assert [level.shape for level in levels] == [(2, 2 * 16, 4, 4)] * 2  # 2 blocks × width 16, per level
    assert tiny_model.sam.forward_from_prefix(encoded[SAM_PREFIX]).shape == (2, 32, 8, 8)
    output = tiny_model.forward_from_encoded(encoded, torch.Generator().manual_seed(0))
    assert output.logits.shape == (2, 1, 32, 32)
    assert set(output.evidence) == {"sam_branch", "latent_branch", "latent_t0.60", "latent_t0.28"}
    assert all(value.shape == (2, 1, 32, 32) for value in output.evidence.values())


def test_rectified_flow_noising_follows_the_schedulers_sigma(tiny_model):
    branch = tiny_model.latent
    scheduler = branch.scheduler
    latents, noise = torch.randn(2, 32, 8, 8), torch.randn(2, 32, 8, 8)
    noisy = branch.noised(latents, noise).chunk(2)
    for level, index in enumerate(TINY.latent.noise_step_indices):
        sigma = scheduler.sigmas[index]
        assert torch.isclose(scheduler.timesteps[index], branch.timesteps[level])
        assert torch.allclose(noisy[level], (1 - sigma) * latents + sigma * noise, atol=1e-6)
    assert branch.sigmas == pytest.approx([0.602, 0.278], abs=1e-3)


def test_shift_raises_the_noise_levels_as_sd3_shifts_sigma():
    def sigmas(config: LatentBranchConfig) -> np.ndarray:
        branch = LatentBranch(config, nn.Identity(), _tiny_transformer(config), nn.Identity())
        return np.array(branch.sigmas)

    shifted, plain = sigmas(TINY.latent), sigmas(replace(TINY.latent, shift=1.0))
    assert plain == pytest.approx([0.334, 0.112], abs=1e-3)
    assert shifted == pytest.approx(3 * plain / (1 + 2 * plain), abs=5e-3)
    none = LatentBranch(replace(TINY.latent, noise="none"), nn.Identity(), _tiny_transformer(TINY.latent),
                        nn.Identity())
    latents = torch.randn(1, 32, 8, 8)
    assert none.sigmas == [0.0] and torch.equal(none.noised(latents, torch.randn_like(latents)), latents)


def _tiny_transformer(config: LatentBranchConfig):
    from diffusers import SD3Transformer2DModel

    return SD3Transformer2DModel(**config.transformer)


def test_hooks_collect_the_image_tokens_of_the_chosen_blocks(tiny_model):
    branch = tiny_model.latent
    latents = torch.randn(1, 32, 8, 8)
    with torch.no_grad():
        levels = branch(latents, torch.Generator().manual_seed(3))
        noisy = branch.noised(latents, torch.randn(latents.shape, generator=torch.Generator().manual_seed(3)))
        transformer = branch.transformer
        hidden, pooled = branch.text(noisy.shape[0])
        tokens = transformer.pos_embed(noisy)
        temb = transformer.time_text_embed(branch.timesteps, pooled)
        context = transformer.context_embedder(hidden)
        outputs = []
        for block in transformer.transformer_blocks[:2]:
            context, tokens = block(hidden_states=tokens, encoder_hidden_states=context, temb=temb)
            outputs.append(tokens)
    expected = torch.cat(outputs, dim=-1).transpose(1, 2).reshape(2, 32, 4, 4)
    assert torch.allclose(torch.cat(levels), expected, atol=1e-5)


def test_only_lora_trains_in_the_sam_branch(tiny_model):
    trainable = [name for name, p in tiny_model.sam.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name and ".layers.3." in name and ".attn.qkv." in name for name in trainable)
    assert len(trainable) == 2  # lora_A and lora_B on the last stage's one block

    compact = sam_branch(COMPACT.sam, TinyViT(TinyViTConfig(image_size=64)))
    assert {n for n, p in compact.named_parameters() if p.requires_grad} == {
        f"encoder.layers.3.blocks.1.attn.qkv.lora_{ab}.default.weight" for ab in "AB"}
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():  # LoRA starts as the identity: prefix + rest is the whole encoder
        assert torch.allclose(compact(images), compact.encoder(images), atol=1e-5)

    from segment_anything.modeling import ImageEncoderViT

    vit = ImageEncoderViT(img_size=32, patch_size=8, embed_dim=16, depth=3, num_heads=2, out_chans=8,
                          window_size=2, global_attn_indexes=(2,), use_rel_pos=True,
                          norm_layer=partial(nn.LayerNorm, eps=1e-6))
    config = SAMBranchConfig(encoder="sam_vit_b", input_size=32, out_channels=8, grid=4, pixel_mean=(0.5,) * 3,
                             pixel_std=(0.25,) * 3, prefix_stages=0, lora_rank=2)
    branch = sam_branch(config, vit)
    vit_trainable = {name for name, p in branch.named_parameters() if p.requires_grad}
    assert vit_trainable == {f"encoder.blocks.{i}.attn.qkv.lora_{ab}.default.weight" for i in range(3) for ab in "AB"}
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(branch(images), vit((images - 0.5) / 0.25), atol=1e-5)


def test_bce_dice_training_lowers_the_loss_on_a_toy_batch():
    torch.manual_seed(0)
    model = build_clue(TINY, pretrained=False).train()
    encoded = model.encode(*_images(2))
    target = torch.zeros(2, 1, 32, 32)
    target[:, :, 8:20, 10:24] = 1
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(10):
        loss, logs = clue_loss(model.forward_from_encoded(encoded, torch.Generator().manual_seed(step)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(logs["bce"] + logs["dice"])
    assert losses[-1] < 0.8 * losses[0]


def test_full_profile_has_the_papers_backbones_at_full_size():
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL

    model = build_clue_skeleton("full")

    def count(module: nn.Module) -> int:
        return sum(p.numel() for name, p in module.named_parameters() if "lora_" not in name)

    assert all(p.device.type == "meta" for p in model.parameters())
    assert count(model.latent.transformer) == pytest.approx(2.028e9, rel=1e-3)
    assert count(model.sam.encoder) == pytest.approx(89.67e6, rel=1e-3)
    with init_empty_weights():
        vae = AutoencoderKL(**SD3_VAE)
    assert count(vae) == pytest.approx(83.82e6, rel=1e-3)
    assert count(model.latent.autoencoder) == count(vae.encoder) + count(vae.quant_conv or nn.Identity())
    lora = {name.split(".lora_")[0].rsplit(".", 1)[-1] for name, p in model.latent.transformer.named_parameters()
            if p.requires_grad}
    assert lora == {"to_q", "to_k", "to_v"}
    assert model.latent.text.hidden_states.shape == (1, 333, 4096)


def test_full_code_path_runs_at_toy_size():
    """SD3 VAE (scaled latent mean), MMDiT with LoRA and fixed empty-prompt input, ViT with LoRA."""
    from segment_anything.modeling import ImageEncoderViT

    transformer = {**TINY.latent.transformer, "in_channels": 16, "out_channels": 16}
    vae = {**SD3_VAE, "block_out_channels": (8, 8, 8, 8), "layers_per_block": 1, "norm_num_groups": 4}
    vit = {"img_size": 32, "patch_size": 8, "embed_dim": 16, "depth": 2, "num_heads": 2, "out_chans": 8,
           "use_rel_pos": True, "window_size": 2, "global_attn_indexes": (1,)}
    toy = replace(FULL, latent=replace(FULL.latent, input_size=64, transformer=transformer, feature_blocks=(0, 2),
                                       vae=vae, lora_rank=2),
                  sam=replace(FULL.sam, input_size=32, out_channels=8, grid=4, vit=vit),
                  fusion_dim=16, fusion_groups=4, localization_dim=8, output_size=16, probe_dim=4)
    torch.manual_seed(0)
    model = build_clue(toy, pretrained=False)
    latent_images, sam_images = _images(1, toy)
    encoded = model.encode(latent_images, sam_images)
    raw = model.latent.autoencoder.encode(latent_images * 2 - 1).latent_dist.mean
    assert torch.allclose(encoded[LATENT], (raw - 0.0609) * 1.5305, atol=1e-5)
    output = model.forward_from_encoded(encoded, torch.Generator().manual_seed(0))
    assert output.logits.shape == (1, 1, 16, 16) and len(output.evidence) == 4
    assert isinstance(model.sam.encoder, ImageEncoderViT)
    trained = model.trainable_state_dict()
    lora = [k for k in trained if "lora_" in k]
    assert lora and all(k.startswith(("latent.transformer.", "sam.encoder.")) for k in lora)
    assert not any(k.startswith(("latent.text", "latent.autoencoder")) for k in trained)
    assert all(k.startswith(("fusion.", "localization.", "probes.")) for k in set(trained) - set(lora))


@pytest.mark.skipif(get_store().find("sd3_medium") is not None, reason="SD3 weights present here")
def test_full_profile_without_sd3_names_the_missing_weights():
    with pytest.raises(WeightsError, match="sd3_medium|stable-diffusion-3"):
        build_clue("full")


@pytest.mark.skipif(any(get_store().find(n) is None for n in ("sd3_medium", "sam_vit_b")),
                    reason="SD3-medium / SAM ViT-B weights not present (never downloaded in tests)")
def test_full_profile_loads_local_weights():
    model = build_clue("full")
    assert model.latent.transformer.config.num_layers == 24


def test_exported_weights_reload_exactly_and_refuse_other_configs(tiny_model, tmp_path):
    path = tmp_path / "clue.safetensors"
    export_weights(tiny_model, path)
    assert read_trained_config(path, "clue", CLUEConfig) == TINY
    rebuilt = build_clue(TINY, checkpoint=path, pretrained=False)
    rebuilt.latent.autoencoder.load_state_dict(tiny_model.latent.autoencoder.state_dict())
    rebuilt.sam.encoder.load_state_dict(tiny_model.sam.encoder.state_dict())
    images = _images(1)
    with torch.no_grad():
        first = tiny_model(*images, torch.Generator().manual_seed(0)).logits
        second = rebuilt(*images, torch.Generator().manual_seed(0)).logits
    assert torch.allclose(first, second, atol=2e-2)  # fp16 export
    with pytest.raises(WeightsError, match="different CLUE configuration"):
        build_clue(replace(TINY, probe_dim=8), checkpoint=path, pretrained=False)


def _write_dataset(folder, count: int = 5) -> None:
    rng = np.random.default_rng(0)
    for kind in ("tampered", "masks", "authentic"):
        (folder / kind).mkdir(parents=True)
    for i in range(count):
        rgb = rng.integers(0, 255, (72, 80, 3), dtype=np.uint8)
        mask = np.zeros((72, 80), np.uint8)
        mask[10 + i:40, 20:60] = 255
        rgb[mask > 0] //= 2
        cv2.imwrite(str(folder / "tampered" / f"{i}.png"), rgb)
        cv2.imwrite(str(folder / "masks" / f"{i}.png"), mask)
    cv2.imwrite(str(folder / "authentic" / "a.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))


@needs_compact_backbones
def test_train_command_then_analyze_with_the_trained_weights(tmp_path, monkeypatch):
    from engines.cli import build_parser
    from engines.commands import train

    _write_dataset(tmp_path / "data")
    monkeypatch.setattr(CLUEEngine, "profiles", {**CLUEEngine.profiles, "compact": LITE_MEDSAM_TINY})
    monkeypatch.setenv("FORGERY_CACHE", str(tmp_path / "cache"))
    get_settings.cache_clear()
    try:
        args = build_parser().parse_args(["train", "--engine", "clue", "--data", str(tmp_path / "data"),
                                          "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "2"])
        assert train.run(args) == 0
        state = read_state(tmp_path / "run")
        assert state["epoch"] == 1 and "val_latent_t0.60_f1" in state["history"][-1]
        engine = CLUEEngine(weights=tmp_path / "run" / "weights.safetensors", device="cpu")
        rgb = cv2.imread(str(tmp_path / "data" / "tampered" / "0.png"))[..., ::-1][:70]
        first, second = engine.analyze(rgb), engine.analyze(rgb)
    finally:
        get_settings.cache_clear()
    assert first.heatmap.shape == (70, 80) and np.array_equal(first.heatmap, second.heatmap)
    assert set(first.maps) == {"sam_branch", "latent_branch", "latent_t0.60", "latent_t0.28"}
    assert first.provenance.parameters["noise_levels"] == pytest.approx([0.602, 0.278], abs=1e-3)
    assert {"taef2_encoder", "lite_medsam", "weights.safetensors"} <= set(first.provenance.weights)


def test_missing_trained_weights_say_how_to_train(tmp_path):
    engine = CLUEEngine(weights=tmp_path / "absent.safetensors", device="cpu")
    with pytest.raises(WeightsError, match="python -m engines train --engine clue"):
        engine.load()


@needs_compact_backbones
@pytest.mark.skipif(not CLUEEngine.shipped_weights("compact").is_file(), reason="no shipped CLUE weights")
def test_shipped_compact_model_analyses_an_image_with_its_evidence_maps(spliced_image):
    rgb, mask = spliced_image
    analysis = get_engine("clue").analyze(rgb)  # shapes and ranges: tests/test_engine_contract.py
    assert read_trained_config(CLUEEngine.shipped_weights("compact"), "clue", CLUEConfig) == COMPACT
    assert set(analysis.maps) == {"sam_branch", "latent_branch", "latent_t0.60", "latent_t0.28"}
