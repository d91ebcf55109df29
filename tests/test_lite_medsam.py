"""LiteMedSAM backbone: strict loading of the released weights, fidelity to the reference
TinyViT, box-prompt segmentation, preprocessing geometry, and plumbing of a tiny random build.

Tests that need the real weights skip unless the model store finds them locally
(FORGERY_WEIGHT_LITE_MEDSAM or the store's cache; `python -m engines weights fetch lite_medsam`).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engines.backbones.lite_medsam import (
    TINY_CONFIG,
    LiteMedSAM,
    build_lite_medsam,
    prepare_image,
)
from engines.backbones.tiny_vit import TinyViT, _relative_offset_index
from engines.errors import ImageInputError, WeightsError
from engines.store.model_store import get_store


@pytest.fixture(scope="module")
def weights_path() -> Path:
    path = get_store().find("lite_medsam")
    if path is None:
        pytest.skip(
            "lite_medsam.pth not found locally: set FORGERY_WEIGHT_LITE_MEDSAM or run "
            "`python -m engines weights fetch lite_medsam`"
        )
    return path


@pytest.fixture(scope="module")
def model(weights_path: Path) -> LiteMedSAM:
    torch.manual_seed(0)
    return build_lite_medsam(weights_path)


def _scene_with_two_ellipses() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """300×400 dark noisy background with two bright textured ellipses; returns image, masks."""
    rng = np.random.default_rng(0)
    height, width = 300, 400
    image = rng.normal(50, 15, (height, width, 3))
    big = np.zeros((height, width), np.uint8)
    cv2.ellipse(big, (240, 150), (100, 60), 20, 0, 360, 1, -1)
    small = np.zeros((height, width), np.uint8)
    cv2.ellipse(small, (70, 70), (40, 25), -30, 0, 360, 1, -1)
    texture = rng.normal(190, 20, (height, width, 3))
    objects = (big | small) > 0
    image[objects] = texture[objects]
    return np.clip(image, 0, 255).astype(np.uint8), big > 0, small > 0


def _box_around(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min() - margin, ys.min() - margin, xs.max() + margin, ys.max() + margin


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_checkpoint_loads_strictly_with_exact_keys(weights_path: Path, model: LiteMedSAM) -> None:
    checkpoint = torch.load(weights_path, map_location="cpu", weights_only=True)
    assert set(checkpoint) == set(model.state_dict())
    prefixes = {key.split(".")[0] for key in checkpoint}
    assert prefixes == {"image_encoder", "prompt_encoder", "mask_decoder"}
    loaded = model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in checkpoint.items())


def test_parameter_count_is_lite_medsam() -> None:
    parameters = sum(p.numel() for p in LiteMedSAM().parameters())
    assert abs(parameters - 9.8e6) < 0.1e6


def test_mismatched_checkpoint_is_refused_with_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny.pth"
    torch.save(LiteMedSAM(TINY_CONFIG).state_dict(), path)
    with pytest.raises(WeightsError, match="does not fit LiteMedSAM"):
        build_lite_medsam(path)


def test_features_at_256_match_reference_tinyvit(model: LiteMedSAM) -> None:
    """Embedding values computed with LiteMedSAM's own tiny_vit_sam.py on the same input and
    weights; feature shapes as documented in `TinyViT.feature_info`."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
    images = torch.stack([xx, yy, 0.5 + 0.5 * torch.sin(12 * math.pi * xx * yy)]).unsqueeze(0)
    with torch.no_grad():
        features = model.image_encoder.forward_features(images)
    assert {name: tuple(value.shape[1:]) for name, value in features.items()} == {
        "stage0": (64, 256, 256),
        "stage1": (128, 128, 128),
        "stage2": (160, 64, 64),
        "stage3": (320, 64, 64),
        "embed": (256, 64, 64),
    }
    embedding = features["embed"][0]
    expected_center = torch.tensor([-0.017106146, -0.085401565, -0.056266624, 0.096811041])
    expected_edge = torch.tensor([-0.022320632, -0.076094061, 0.030338358, -0.036762744])
    torch.testing.assert_close(embedding[:4, 32, 32], expected_center, atol=1e-4, rtol=0)
    torch.testing.assert_close(embedding[:4, 5, 60], expected_edge, atol=1e-4, rtol=0)


def test_box_prompt_segments_only_the_boxed_ellipse(model: LiteMedSAM) -> None:
    image, big, small = _scene_with_two_ellipses()
    boxes = [_box_around(big, margin=6), _box_around(small, margin=4)]
    big_mask, small_mask = model.segment_boxes(image, boxes)
    assert big_mask.shape == big.shape and big_mask.dtype == bool
    # Measured: IoU 0.99 (big) and 0.97 (small); the other object stays out of each mask.
    assert _iou(big_mask, big) > 0.95
    assert _iou(small_mask, small) > 0.9
    assert (big_mask & small).sum() < 0.01 * small.sum()
    assert (small_mask & big).sum() < 0.01 * big.sum()


def test_feature_info_matches_forward_features_of_any_width() -> None:
    encoder = TinyViT(TINY_CONFIG.encoder).eval()
    with torch.no_grad():
        features = encoder.forward_features(torch.rand(1, 3, 256, 256))
    shapes = {name: tuple(value.shape[1:]) for name, value in features.items()}
    expected = {
        name: (chans, 256 // stride, 256 // stride)
        for name, (chans, stride) in encoder.feature_info().items()
    }
    assert shapes == expected
    sides = [shapes[name][1] for name in ("stage0", "stage1", "stage2", "stage3", "embed")]
    assert sides == [256, 128, 64, 64, 64]


def test_attention_bias_index_follows_levit_numbering() -> None:
    """Offsets are numbered in order of first appearance, as the checkpoint's biases were."""
    size = 4
    points = list(itertools.product(range(size), range(size)))
    numbering: dict[tuple[int, int], int] = {}
    expected = []
    for (y1, x1), (y2, x2) in itertools.product(points, points):
        offset = (abs(y1 - y2), abs(x1 - x2))
        expected.append(numbering.setdefault(offset, len(numbering)))
    assert torch.equal(_relative_offset_index(size), torch.tensor(expected).view(size * size, -1))


def test_prepare_image_resizes_normalises_pads_and_maps_back() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    image[:, 200:] = 200
    prepared = prepare_image(image)
    assert prepared.tensor.shape == (1, 3, 256, 256)
    assert prepared.resized_size == (192, 256)
    assert prepared.tensor[..., :192, :].min() == 0 and prepared.tensor.max() == 1
    assert prepared.tensor[..., 192:, :].abs().sum() == 0
    assert prepared.box_to_input((40, 30, 201, 150)).tolist() == [[25.0, 19.0, 128.0, 96.0]]
    logits = -torch.ones(1, 1, 256, 256)
    logits[..., :192, :128] = 1.0
    back = prepared.logits_to_original(logits)[0, 0] > 0
    assert back.shape == (300, 400)
    assert back[:, :195].all() and not back[:, 205:].any()


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ImageInputError, match="uint8"):
        prepare_image(np.zeros((20, 30, 3), np.float32))
    prepared = prepare_image(np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(ValueError, match="no area"):
        prepared.box_to_input((10, 5, 10, 15))
    with pytest.raises(ValueError, match="four finite numbers"):
        prepared.box_to_input((0, 0, 5))


def test_tiny_random_build_runs_end_to_end_and_trains() -> None:
    torch.manual_seed(0)
    tiny = build_lite_medsam(config=TINY_CONFIG)
    image = np.random.default_rng(0).integers(0, 255, (30, 50, 3), np.uint8)
    mask = tiny.segment_box(image, (5, 5, 40, 25))
    assert mask.shape == (30, 50) and mask.dtype == bool
    assert tiny.segment_boxes(image, [(5, 5, 40, 25), (0, 0, 50, 30)]).shape == (2, 30, 50)
    tiny.train()
    boxes = torch.tensor([[10.0, 10, 100, 80], [0, 0, 255, 255]])
    logits, iou = tiny(torch.rand(2, 3, 256, 256), boxes)
    assert logits.shape == (2, 1, 256, 256) and iou.shape == (2, 1)
    logits.mean().backward()
    assert tiny.image_encoder.patch_embed.seq[0].c.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="one box per image"):
        tiny(torch.rand(2, 3, 256, 256), boxes[:1].repeat(3, 1))
