"""The file-forensics record (engines.data.file_forensics, engines.data.metadata): hash, metadata with
editing tags highlighted, JPEG structure with the one quality estimate, and the EXIF thumbnail."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from engines.data.file_forensics import compare_thumbnail, embedded_thumbnail, inspect_file
from engines.data.imageio import load_image
from engines.settings import get_settings

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Adobe Photoshop 25.0"/>'
       b"</rdf:RDF></x:xmpmeta>")


def _photo(path: Path, **options) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, **options)
    return path


def test_hash_metadata_and_jpeg_structure_of_an_edited_file(tmp_path: Path):
    exif = Image.Exif()
    exif[ExifTags.Base.Software] = "GIMP 2.10"
    exif[ExifTags.Base.Make] = "Canon"
    path = _photo(tmp_path / "edited.jpg", quality=80, progressive=True, subsampling=0, exif=exif, xmp=XMP)
    report = inspect_file(path)
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == load_image(path).sha256
    assert report.size_bytes == path.stat().st_size
    tags = {(tag.group, tag.name): tag for tag in report.tags}
    assert tags["Image", "Software"].highlighted and not tags["Image", "Make"].highlighted
    assert tags["XMP", "CreatorTool"].value == "Adobe Photoshop 25.0" and tags["XMP", "CreatorTool"].highlighted
    jpeg = report.jpeg
    assert (jpeg["quality"], jpeg["quality_standard"], jpeg["progressive"]) == (80, True, True)
    assert jpeg["subsampling"].startswith("4:4:4") and len(jpeg["quantization_tables"]["0"]) == 8
    assert load_image(path).jpeg_quality == jpeg["quality"]  # one estimate everywhere
    assert "Image Software: GIMP 2.10" in report.clues
    assert any(clue.startswith("Progressive JPEG") for clue in report.clues)


def test_a_png_without_metadata_has_no_jpeg_record(tmp_path: Path):
    report = inspect_file(_photo(tmp_path / "plain.png"))
    assert report.format == "PNG" and report.jpeg is None and report.tags == [] and report.thumbnail is None


def test_thumbnail_check_tells_a_matching_thumbnail_from_a_changed_image():
    rng = np.random.default_rng(1)
    image = np.kron(rng.integers(0, 256, (12, 16, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    thumbnail = image[::10, ::10]
    assert "matches" in compare_thumbnail(thumbnail, image).finding
    edited = image.copy()
    edited[:, :80] = 255 - edited[:, :80]
    assert "differs" in compare_thumbnail(thumbnail, edited).finding
    assert "another shape" in compare_thumbnail(thumbnail, image[:, :100]).finding


def _photo_with_thumbnail() -> Path:
    for path in sorted(get_settings().photos_dir.rglob("*.jpg")):
        with Image.open(path) as image:
            if embedded_thumbnail(image) is not None:
                return path
    pytest.skip("no photo with an EXIF thumbnail in the shared photos")


def test_real_photo_thumbnail_is_read_and_an_edit_after_it_is_seen(tmp_path: Path):
    original = _photo_with_thumbnail()
    untouched = inspect_file(original)
    assert untouched.thumbnail.matches and untouched.thumbnail.finding not in untouched.clues
    with Image.open(original) as image:
        pixels = np.asarray(image.convert("RGB")).copy()
        raw_exif = image.info["exif"]
    pixels[:, : pixels.shape[1] // 2] = 0
    edited = tmp_path / "edited.jpg"
    Image.fromarray(pixels).save(edited, quality=90, exif=raw_exif)
    changed = inspect_file(edited)
    assert "differs" in changed.thumbnail.finding and changed.thumbnail.finding in changed.clues
    with Image.open(io.BytesIO(edited.read_bytes())) as reopened:
        assert embedded_thumbnail(reopened).shape[2] == 3
