import json
import math

import cv2
import numpy as np
import pytest
import torch

from engines.errors import ImageInputError, UnknownNameError, WorkbenchError
from engines.data.perturb import (
    STANDARD_GRIDS,
    Chain,
    Perturbation,
    blur,
    gamma,
    jpeg,
    noise,
    parse_chain,
    resize,
    social_preset,
    sweep,
)
from engines.data.perturb_torch import blur_tensor, noise_tensor


def _photo_like(height: int = 64, width: int = 96) -> np.ndarray:
    """Smooth gradients plus a few edges: compresses like a photograph, not like white noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width * 200 + 20, y / height * 180 + 40, (x + y) / (width + height) * 150 + 60], axis=-1)
    rgb[height // 4 : height // 2, width // 4 : width // 2] = (230, 40, 40)
    rgb += 12 * np.sin(x / 3.0)[..., None]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _high_frequency_energy(rgb: np.ndarray) -> float:
    return float(np.mean(cv2.Laplacian(rgb.astype(np.float32), cv2.CV_32F) ** 2))


def test_chain_is_deterministic_under_seed():
    rgb = _photo_like()
    chain = parse_chain("blur=1+noise=6+jpeg=80")
    first = chain.apply(rgb, seed=3)
    assert np.array_equal(first, chain.apply(rgb, seed=3))
    assert not np.array_equal(first, chain.apply(rgb, seed=4))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0]


def test_jpeg_loses_more_as_quality_drops_and_q100_is_near_lossless():
    rgb = _photo_like()
    qualities = (20, 50, 80, 95, 100)
    psnrs = [_psnr(rgb, jpeg(rgb, quality)) for quality in qualities]
    luma_psnrs = [_psnr(_luma(rgb), _luma(jpeg(rgb, quality))) for quality in qualities]
    assert psnrs == sorted(psnrs) and luma_psnrs == sorted(luma_psnrs)
    # 4:2:0 chroma subsampling still costs colour detail at q=100; luma is near-lossless.
    assert luma_psnrs[-1] > 55.0
    assert not np.array_equal(rgb, jpeg(rgb, 100))


def test_blur_removes_high_frequencies_more_with_larger_sigma():
    rgb = _photo_like()
    energies = [_high_frequency_energy(rgb)] + [_high_frequency_energy(blur(rgb, sigma)) for sigma in (0.8, 2.0)]
    assert energies[0] > energies[1] > energies[2]


def test_blur_kernel_rules_follow_opencv():
    rgb = _photo_like()
    assert np.array_equal(parse_chain("blur=kernel:7").apply(rgb), cv2.GaussianBlur(rgb, (7, 7), 0))
    assert np.array_equal(blur(rgb, sigma=1.5), cv2.GaussianBlur(rgb, (11, 11), 1.5))
    assert np.array_equal(parse_chain("blur=sigma:1.5,kernel:5").apply(rgb), cv2.GaussianBlur(rgb, (5, 5), 1.5))


def test_noise_standard_deviation_matches_request_on_mid_gray():
    gray = np.full((128, 128, 3), 128, dtype=np.uint8)
    noisy = noise(gray, 8.0, np.random.default_rng(0))
    difference = noisy.astype(np.float64) - 128
    assert abs(difference.std() - 8.0) < 0.2
    assert abs(difference.mean()) < 0.2


def test_resize_changes_or_restores_the_size():
    rgb = _photo_like(64, 96)
    assert resize(rgb, 0.5).shape == (32, 48, 3)
    for interpolation in ("bilinear", "nearest", "bicubic", "area", "lanczos"):
        restored = resize(rgb, 0.5, interpolation, restore=True)
        assert restored.shape == rgb.shape
        assert not np.array_equal(restored, rgb)
    assert np.array_equal(resize(rgb, 2.0, "nearest", restore=True), rgb)
    assert Perturbation("resize", {"scale": 0.5}).changes_size
    assert not Perturbation("resize", {"scale": 0.5, "restore": True}).changes_size


def test_resize_refuses_outputs_above_the_megapixel_limit():
    with pytest.raises(ImageInputError, match="MP"):
        resize(_photo_like(), 200.0)


def test_gamma_is_monotone_and_darkens_above_one():
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    for g in (0.5, 1.2, 2.2):
        assert np.all(np.diff(gamma(ramp, g)[0, :, 0].astype(int)) >= 0)
    assert np.array_equal(gamma(ramp, 1.0), ramp)
    mid = ramp[:, 128:129]
    assert gamma(mid, 2.2)[0, 0, 0] < 128 < gamma(mid, 0.5)[0, 0, 0]


@pytest.mark.parametrize(
    ("name", "expected_shape"),
    [("facebook", (1024, 2048)), ("whatsapp", (800, 1600)), ("instagram", (540, 1080)), ("x", (1200, 2400))],
)
def test_presets_cap_the_size_and_reencode(name, expected_shape):
    wide = cv2.resize(_photo_like(), (2400, 1200), interpolation=cv2.INTER_LINEAR)
    out = social_preset(wide, name)
    assert out.shape[:2] == expected_shape
    assert Perturbation("preset", {"name": name}).changes_size
    if out.shape == wide.shape:
        assert not np.array_equal(out, wide)


def test_presets_never_upscale():
    small = _photo_like(50, 70)
    out = parse_chain("preset=instagram").apply(small)
    assert out.shape == small.shape
    assert not np.array_equal(out, small)


def test_parse_chain_round_trips_and_describes():
    chain = parse_chain("resize=0.75+jpeg=70")
    assert chain == parse_chain(["resize=0.75", "jpeg=70"])
    assert chain.describe() == "resize(scale=0.75, interpolation=bilinear, restore=false) + jpeg(quality=70)"
    assert Chain.from_list(json.loads(json.dumps(chain.to_list()))) == chain
    assert parse_chain(chain.to_spec()) == chain
    varied = parse_chain("blur=sigma:1.5,kernel:5+noise=8+gamma=1.2+preset=WhatsApp+resize=scale:0.5,restore:true")
    assert parse_chain(varied.to_spec()) == varied
    assert varied.steps[0].describe() == "blur(sigma=1.5, kernel=5)"
    assert varied.steps[3].params == {"name": "whatsapp"}
    assert Chain().describe() == "none"


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        ("jpg=70", UnknownNameError, "did you mean 'jpeg'"),
        ("preset=whatsap", UnknownNameError, "did you mean 'whatsapp'"),
        ("blur=sigma:1,kernal:5", UnknownNameError, "did you mean 'kernel'"),
        ("resize=scale:0.5,interpolation:bilnear", UnknownNameError, "did you mean 'bilinear'"),
        ("jpeg=0", WorkbenchError, "between 1 and 100"),
        ("jpeg=101", WorkbenchError, "between 1 and 100"),
        ("jpeg=70.5", WorkbenchError, "whole number"),
        ("jpeg=high", WorkbenchError, "must be a number"),
        ("noise=-2", WorkbenchError, "sigma must be >= 0"),
        ("blur=-1", WorkbenchError, "sigma must be >= 0"),
        ("blur=0", WorkbenchError, "sigma > 0 or an odd kernel"),
        ("blur=kernel:4", WorkbenchError, "odd size"),
        ("resize=0", WorkbenchError, "scale must be > 0"),
        ("gamma=0", WorkbenchError, "must be > 0"),
        ("jpeg", WorkbenchError, "needs a value"),
        ("jpeg=70+", WorkbenchError, "stray '+'"),
        ("", WorkbenchError, "empty perturbation spec"),
    ],
)
def test_bad_specs_raise_clear_errors(spec, error, text):
    with pytest.raises(error) as raised:
        parse_chain(spec)
    assert text.lower() in str(raised.value).lower()


def test_sweeps_cover_the_standard_grids():
    assert [chain.describe() for chain in sweep("jpeg", [50, 70])] == ["jpeg(quality=50)", "jpeg(quality=70)"]
    assert STANDARD_GRIDS["jpeg"] == [50, 60, 70, 80, 90, 100]
    assert STANDARD_GRIDS["blur_kernel"] == [3, 7, 11, 15, 19, 23]
    noise_chains = sweep("noise_var", STANDARD_GRIDS["noise_var"])
    assert noise_chains[0].steps[0].params["sigma"] == pytest.approx(math.sqrt(3), abs=1e-4)
    rgb = _photo_like(16, 16)
    for axis, values in STANDARD_GRIDS.items():
        for chain in sweep(axis, values):
            assert chain.apply(rgb).dtype == np.uint8
    with pytest.raises(UnknownNameError, match="blur_kernel"):
        sweep("blur_kernal", [3])


def test_every_kind_keeps_dtype_and_shape():
    rgb = _photo_like(33, 47)
    for spec in ("jpeg=60", "blur=1.2", "noise=5", "resize=scale:0.6,restore:true", "gamma=1.5", "preset=facebook"):
        out = parse_chain(spec).apply(rgb)
        assert out.dtype == np.uint8 and out.shape == rgb.shape, spec
    assert parse_chain("jpeg=60").apply(rgb[:, ::-1]).shape == rgb.shape


def test_non_rgb_uint8_input_is_refused():
    chain = parse_chain("jpeg=70")
    with pytest.raises(ImageInputError, match="uint8"):
        chain.apply(np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ImageInputError, match="H×W×3"):
        chain.apply(np.zeros((8, 8), dtype=np.uint8))


def test_torch_blur_matches_a_hand_computed_zero_padded_convolution():
    sigma, kernel = 1.5, 5
    x = torch.arange(2 * 4 * 4, dtype=torch.float64).reshape(1, 2, 4, 4) / 32
    weights = [math.exp(-(offset**2) / (2 * sigma**2)) for offset in range(-2, 3)]
    weights = [w / sum(weights) for w in weights]
    expected = torch.zeros_like(x)
    for c in range(2):
        for i in range(4):
            for j in range(4):
                expected[0, c, i, j] = sum(
                    weights[di + 2] * weights[dj + 2] * x[0, c, i + di, j + dj]
                    for di in range(-2, 3)
                    for dj in range(-2, 3)
                    if 0 <= i + di < 4 and 0 <= j + dj < 4
                )
    result = blur_tensor(x, sigma, kernel)
    assert result.shape == x.shape and result.dtype == x.dtype
    assert torch.allclose(result, expected, atol=1e-12)


def test_torch_noise_is_seeded_clamped_and_has_the_requested_std():
    x = torch.full((2, 3, 64, 64), 0.5)
    first = noise_tensor(x, 0.05, torch.Generator().manual_seed(0))
    assert torch.equal(first, noise_tensor(x, 0.05, torch.Generator().manual_seed(0)))
    assert not torch.equal(first, noise_tensor(x, 0.05, torch.Generator().manual_seed(1)))
    assert abs((first - x).std().item() - 0.05) < 0.002
    strong = noise_tensor(x, 0.5, torch.Generator().manual_seed(0))
    assert strong.min().item() == 0.0 and strong.max().item() == 1.0
