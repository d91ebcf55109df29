"""Tests for engines.data.imageio: every input mode, EXIF orientation, error cases, JPEG quality, masks."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from engines.errors import ImageInputError
from engines.data import imageio
from engines.data.imageio import LoadedImage, load_image, load_mask
from engines.settings import get_settings

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def _noise_jpeg(path: Path, quality: int = 90, size: int = 64) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return _save(Image.fromarray(pixels), path, quality=quality)


def _assert_well_formed(loaded: LoadedImage) -> None:
    assert loaded.rgb.dtype == np.uint8
    assert loaded.rgb.ndim == 3 and loaded.rgb.shape[2] == 3
    assert loaded.rgb.flags.c_contiguous


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail)


# --- modes -----------------------------------------------------------------------------------


def test_16_bit_gray_png_is_scaled_by_full_range(tmp_path):
    values = np.array([[0, 257 * 100], [65535, 32767]], dtype=np.uint16)
    path = _save(Image.fromarray(values), tmp_path / "gray16.png")
    loaded = load_image(path)
    _assert_well_formed(loaded)
    assert loaded.original_mode.startswith("I")
    np.testing.assert_array_equal(loaded.rgb[..., 0], [[0, 100], [255, 127]])
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_rgb_is_scaled_to_8_bit(tmp_path, suffix):
    rgb16 = np.zeros((4, 5, 3), dtype=np.uint16)
    rgb16[..., 0], rgb16[..., 1] = 65535, 32896
    path = tmp_path / f"rgb16{suffix}"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])
    loaded = load_image(path)
    _assert_well_formed(loaded)
    assert loaded.rgb.shape == (4, 5, 3)
    np.testing.assert_array_equal(loaded.rgb[0, 0], [255, 128, 0])


def test_cmyk_jpeg_without_profile_converts_naively(tmp_path):
    path = _save(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), tmp_path / "cyan.jpg", quality=95)
    loaded = load_image(path)
    _assert_well_formed(loaded)
    assert loaded.original_mode == "CMYK"
    np.testing.assert_allclose(loaded.rgb[8, 8], [0, 255, 255], atol=4)


def test_cmyk_with_unreadable_profile_falls_back(tmp_path):
    cmyk = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    path = _save(cmyk, tmp_path / "cyan.jpg", quality=95, icc_profile=b"not an icc profile")
    np.testing.assert_allclose(load_image(path).rgb[8, 8], [0, 255, 255], atol=4)


def test_cmyk_with_profile_goes_through_colour_management(tmp_path, monkeypatch):
    seen: list[bytes] = []

    def fake_profile(stream):
        seen.append(stream.read())
        return "cmyk-profile"

    def fake_transform(image, source, target, outputMode):
        assert (source, target, outputMode) == ("cmyk-profile", "srgb-profile", "RGB")
        return Image.new("RGB", image.size, GREEN)

    monkeypatch.setattr(imageio, "_srgb_profile", lambda: "srgb-profile")
    monkeypatch.setattr(ImageCms, "ImageCmsProfile", fake_profile)
    monkeypatch.setattr(ImageCms, "profileToProfile", fake_transform)
    path = _save(Image.new("CMYK", (8, 8)), tmp_path / "c.jpg", icc_profile=b"ICCDATA")
    assert load_image(path).rgb[0, 0].tolist() == list(GREEN)
    assert seen == [b"ICCDATA"]


def test_palette_png_with_transparency_composites_over_white(tmp_path):
    palette_image = Image.new("P", (4, 2), 0)
    palette_image.putpalette([*RED, *BLUE] + [0] * 762)
    palette_image.paste(1, (2, 0, 4, 2))
    path = _save(palette_image, tmp_path / "p.png", transparency=1)
    loaded = load_image(path)
    assert loaded.original_mode == "P" and loaded.had_alpha
    assert loaded.rgb[0, 0].tolist() == list(RED)
    assert loaded.rgb[0, 3].tolist() == list(WHITE)


def test_palette_png_without_transparency(tmp_path):
    palette_image = Image.new("P", (2, 2), 1)
    palette_image.putpalette([*RED, *BLUE] + [0] * 762)
    loaded = load_image(_save(palette_image, tmp_path / "p.png"))
    assert not loaded.had_alpha
    assert loaded.rgb[1, 1].tolist() == list(BLUE)


def test_la_composites_over_white(tmp_path):
    la = np.zeros((1, 3, 2), dtype=np.uint8)
    la[0, :, 1] = [0, 128, 255]
    loaded = load_image(_save(Image.fromarray(la, mode="LA"), tmp_path / "la.png"))
    assert loaded.original_mode == "LA" and loaded.had_alpha
    np.testing.assert_array_equal(loaded.rgb[0, :, 0], [255, 127, 0])


def test_rgba_composites_over_white(tmp_path):
    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 0] = [*RED, 255]
    rgba[0, 1] = [*RED, 0]
    loaded = load_image(_save(Image.fromarray(rgba, mode="RGBA"), tmp_path / "rgba.png"))
    assert loaded.original_mode == "RGBA" and loaded.had_alpha
    assert loaded.rgb[0].tolist() == [list(RED), list(WHITE)]


def test_grayscale_becomes_rgb(tmp_path):
    loaded = load_image(_save(Image.new("L", (3, 2), 77), tmp_path / "l.png"))
    _assert_well_formed(loaded)
    assert loaded.original_mode == "L" and not loaded.had_alpha
    assert loaded.rgb.shape == (2, 3, 3) and np.all(loaded.rgb == 77)


def test_one_bit_becomes_black_and_white(tmp_path):
    bits = Image.new("1", (2, 1), 0)
    bits.putpixel((1, 0), 1)
    loaded = load_image(_save(bits, tmp_path / "bits.png"))
    assert loaded.original_mode == "1"
    assert loaded.rgb[0].tolist() == [[0, 0, 0], list(WHITE)]


@pytest.mark.parametrize(
    ("suffix", "options", "format_name"),
    [(".gif", {}, "GIF"), (".png", {}, "PNG"), (".webp", {"lossless": True}, "WEBP")],
)
def test_animation_uses_first_frame(tmp_path, suffix, options, format_name):
    frames = [Image.new("RGB", (8, 8), color) for color in (RED, GREEN, BLUE)]
    path = _save(
        frames[0], tmp_path / f"anim{suffix}", save_all=True, append_images=frames[1:], **options
    )
    loaded = load_image(path)
    assert loaded.format == format_name and loaded.n_frames == 3
    assert loaded.rgb[4, 4].tolist() == list(RED)


@pytest.mark.parametrize(("suffix", "options"), [(".tif", {}), (".webp", {"lossless": True})])
def test_tiff_and_webp_round_trip(tmp_path, suffix, options):
    pixels = np.random.default_rng(1).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    loaded = load_image(_save(Image.fromarray(pixels), tmp_path / f"x{suffix}", **options))
    assert loaded.n_frames == 1 and loaded.jpeg_quality is None
    np.testing.assert_array_equal(loaded.rgb, pixels)


def test_exif_orientation_6_rotates_pixels_and_swaps_size(tmp_path):
    stored = Image.new("RGB", (32, 16), BLUE)
    stored.paste(RED, (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(_save(stored, tmp_path / "phone.jpg", quality=95, exif=exif))
    assert loaded.exif_rotated
    assert loaded.original_size == (32, 16)
    assert (loaded.width, loaded.height) == (16, 32)
    # Orientation 6 = rotate 90° clockwise to display: stored top-left lands top-right.
    top, bottom = loaded.rgb[4, 12], loaded.rgb[28, 12]
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_no_orientation_tag_is_not_rotated(tmp_path):
    loaded = load_image(_save(Image.new("RGB", (5, 3)), tmp_path / "plain.png"))
    assert not loaded.exif_rotated and loaded.original_size == (5, 3) and loaded.height == 3


def test_in_memory_inputs_and_facts(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), GREEN).save(buffer, format="PNG")
    from_bytes = load_image(buffer.getvalue())
    from_stream = load_image(buffer)
    from_pil = load_image(Image.new("RGB", (4, 3), GREEN))
    assert from_bytes.source == from_stream.source == "<bytes>"
    assert from_bytes.format == "PNG" and from_pil.format is None
    for loaded in (from_bytes, from_stream, from_pil):
        assert loaded.rgb[0, 0].tolist() == list(GREEN)
    facts = json.loads(json.dumps(from_bytes.facts()))
    assert facts["width"] == 4 and facts["height"] == 3 and facts["original_size"] == [4, 3]
    assert facts["megapixels"] == pytest.approx(12e-6)
    assert "rgb" not in facts


# --- errors ----------------------------------------------------------------------------------


def _patched_png_header(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose IHDR claims `width`×`height`, with a valid CRC."""
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr_start = 8 + 4  # signature, chunk length
    data[ihdr_start + 4 : ihdr_start + 12] = struct.pack(">II", width, height)
    chunk = bytes(data[ihdr_start : ihdr_start + 4 + 13])
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", zlib.crc32(chunk))
    path.write_bytes(bytes(data))
    return path


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a picture\n")
    with pytest.raises(ImageInputError, match=r"notes\.txt.*not an image"):
        load_image(path)


def test_truncated_jpeg_is_refused(tmp_path):
    whole = _noise_jpeg(tmp_path / "whole.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageInputError, match=r"half\.jpg.*truncated or corrupt"):
        load_image(path)
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def test_empty_file_and_empty_bytes(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageInputError, match=r"empty\.png.*empty"):
        load_image(path)
    with pytest.raises(ImageInputError, match="empty"):
        load_image(b"")


def test_too_many_megapixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (200, 100)), tmp_path / "big.png")
    _forbid_decoding(monkeypatch)
    with pytest.raises(ImageInputError, match=r"big\.png.*200×100.*0\.01 MP limit"):
        load_image(path, max_megapixels=0.01)


def test_default_megapixel_limit_comes_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGERY_MAX_MEGAPIXELS", "0.001")
    get_settings.cache_clear()
    try:
        with pytest.raises(ImageInputError, match="MP limit"):
            load_image(np.zeros((100, 100), dtype=np.uint8))
    finally:
        get_settings.cache_clear()


def test_decompression_bomb_header_is_refused_without_decoding(tmp_path, monkeypatch):
    path = _patched_png_header(tmp_path / "bomb.png", 30000, 30000)
    _forbid_decoding(monkeypatch)
    with pytest.raises(ImageInputError, match=r"bomb\.png.*decompression bomb"):
        load_image(path, max_megapixels=1e6)


def test_decompression_bomb_warning_becomes_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # warns above 1000, errors above 2000
    path = _save(Image.new("L", (40, 40)), tmp_path / "warn.png")
    with pytest.raises(ImageInputError, match="decompression bomb"):
        load_image(path, max_megapixels=1e6)


def test_zero_size_header_is_refused(tmp_path):
    with pytest.raises(ImageInputError, match=r"zero\.png"):
        load_image(_patched_png_header(tmp_path / "zero.png", 0, 5))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageInputError, match=r"not found.*nowhere\.jpg"):
        load_image(tmp_path / "nowhere.jpg")
    with pytest.raises(ImageInputError, match="folder"):
        load_image(tmp_path)


def test_unsupported_source_type():
    with pytest.raises(ImageInputError, match="list"):
        load_image([1, 2, 3])  # type: ignore[arg-type]


# --- JPEG quality ----------------------------------------------------------------------------


@pytest.mark.parametrize("quality", [30, 75, 95])
def test_jpeg_quality_estimate(tmp_path, quality):
    loaded = load_image(_noise_jpeg(tmp_path / f"q{quality}.jpg", quality=quality))
    assert loaded.format == "JPEG"
    assert abs(loaded.jpeg_quality - quality) <= 2


def test_non_standard_quantisation_table_gives_no_quality(tmp_path):
    flat = [7] * 64
    path = _noise_jpeg(tmp_path / "plain.jpg")
    Image.open(path).save(tmp_path / "flat.jpg", qtables=[flat, flat])
    assert load_image(tmp_path / "flat.jpg").jpeg_quality is None


def test_png_has_no_jpeg_quality(tmp_path):
    assert load_image(_save(Image.new("RGB", (2, 2)), tmp_path / "x.png")).jpeg_quality is None


def test_real_casia1_jpeg_quality():
    tampered = get_settings().benchmarks_dir / "casia1" / "tampered"
    if not tampered.is_dir():
        pytest.skip("casia1 benchmark not present")
    ijg = load_image(tampered / "Sp_D_NRN_A_art0014_cha0051_0459.jpg")
    assert isinstance(ijg.jpeg_quality, int) and 1 <= ijg.jpeg_quality <= 100
    assert ijg.jpeg_quality == 75  # saved with the standard IJG tables at quality 75
    # Most other CASIA images carry Photoshop's tables, which no IJG quality reproduces.
    assert load_image(tampered / "Sp_D_CND_A_pla0005_pla0023_0281.jpg").jpeg_quality is None


# --- masks -----------------------------------------------------------------------------------


def test_mask_is_binarised_above_127(tmp_path):
    gray = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    mask = load_mask(_save(Image.fromarray(gray), tmp_path / "m.png"), size=(1, 4))
    assert mask.dtype == np.bool_
    assert mask.tolist() == [[False, False, True, True]]


def test_16_bit_mask_is_scaled_before_thresholding(tmp_path):
    values = np.array([[32639, 33000, 65535]], dtype=np.uint16)  # -> 127, 128, 255
    mask = load_mask(_save(Image.fromarray(values), tmp_path / "m16.png"))
    assert mask.tolist() == [[False, True, True]]


def test_mask_alpha_is_ignored(tmp_path):
    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 1] = [255, 255, 255, 255]
    assert load_mask(Image.fromarray(rgba, mode="RGBA")).tolist() == [[False, True]]


def test_mask_size_mismatch_names_file_and_sizes(tmp_path):
    path = _save(Image.new("L", (4, 3)), tmp_path / "gt_0001.png")
    with pytest.raises(ImageInputError, match=r"ground truth 'gt_0001\.png' is 4×3.*is 5×3"):
        load_mask(path, size=(3, 5), name="ground truth")


def test_mask_from_bool_array():
    mask = np.array([[True, False], [False, True]])
    np.testing.assert_array_equal(load_mask(mask, size=(2, 2)), mask)


# --- numpy input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((2, 3), 9, dtype=np.uint8), 9),
        (np.full((2, 3, 1), 9, dtype=np.uint8), 9),
        (np.full((2, 3), 65535, dtype=np.uint16), 255),
        (np.full((2, 3, 3), 0.5, dtype=np.float32), 128),
        (np.ones((2, 3), dtype=bool), 255),
    ],
)
def test_numpy_inputs(array, expected):
    loaded = load_image(array)
    _assert_well_formed(loaded)
    assert loaded.source == "<array>" and loaded.format is None
    assert loaded.rgb.shape == (2, 3, 3) and np.all(loaded.rgb == expected)


def test_numpy_rgb_and_rgba():
    rgb = np.random.default_rng(2).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(rgb).rgb, rgb)
    rgba = np.concatenate([rgb, np.zeros((3, 4, 1), dtype=np.uint8)], axis=2)
    loaded = load_image(rgba)
    assert loaded.had_alpha and np.all(loaded.rgb == 255)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 3, 2), dtype=np.uint8), "shape"),
        (np.zeros(5, dtype=np.uint8), "shape"),
        (np.zeros((0, 3), dtype=np.uint8), "zero size"),
        (np.full((2, 2), 1.5), r"\[0, 1\]"),
        (np.zeros((2, 2), dtype=np.int32), "int32"),
    ],
)
def test_bad_numpy_inputs(array, message):
    with pytest.raises(ImageInputError, match=message):
        load_image(array)
