"""TAEF2: the released weights load strictly into our module, and a round trip is faithful."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.backbones.taef2 import LATENT_CHANNELS, TAEF2, build_decoder, build_encoder, load_taef2
from engines.errors import WeightsError
from engines.data.imageio import load_image
from engines.settings import get_settings
from engines.store.model_store import get_store, load_state_dict

PHOTO = "kodak24/kodim07.png"


@pytest.fixture(scope="module")
def weights() -> dict[str, dict[str, torch.Tensor]]:
    store = get_store()
    paths = {name: store.find(f"taef2_{name}") for name in ("encoder", "decoder")}
    if not all(paths.values()):
        pytest.skip("TAEF2 weights not available (see `python -m engines weights`)")
    return {name: load_state_dict(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def model(weights) -> TAEF2:
    return load_taef2()


def test_released_state_dicts_match_the_module_key_for_key(weights):
    for name, build in (("encoder", build_encoder), ("decoder", build_decoder)):
        module_shapes = {key: tuple(value.shape) for key, value in build().state_dict().items()}
        file_shapes = {key: tuple(value.shape) for key, value in weights[name].items()}
        assert module_shapes == file_shapes, name
        assert any(".pool." in key for key in file_shapes)  # the FLUX.2 mid-block GroupNorm branch
        assert 1.2e6 < sum(v.numel() for v in weights[name].values()) < 1.5e6


def test_loaded_model_is_frozen_and_shapes_follow_the_factor_of_eight(model: TAEF2):
    assert not any(p.requires_grad for p in model.parameters())
    with torch.inference_mode():
        latent = model.encode(torch.rand(1, 3, 64, 96))
        image = model.decode(latent)
    assert latent.shape == (1, LATENT_CHANNELS, 8, 12)
    assert image.shape == (1, 3, 64, 96) and 0 <= image.min() and image.max() <= 1
    with pytest.raises(ValueError, match="multiples of 8"):
        model.encode(torch.rand(1, 3, 60, 64))


def test_round_trip_on_a_real_photo_is_above_30_db(model: TAEF2):
    path = get_settings().photos_dir / PHOTO
    if not path.is_file():
        pytest.skip(f"{path} not found")
    crop = load_image(path).rgb[:256, :256].astype(np.float64)
    pixels = torch.from_numpy(crop / 255.0).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        decoded = model.decode(model.encode(pixels))[0].permute(1, 2, 0).numpy() * 255.0
    psnr = 10 * np.log10(255.0**2 / np.mean((np.rint(decoded) - crop) ** 2))
    assert psnr > 30, psnr


def test_missing_weight_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not a weights file"):
        load_taef2(tmp_path / "missing.pth", tmp_path / "missing.pth")
