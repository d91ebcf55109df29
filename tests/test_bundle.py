"""Report zips and the procedural example scenes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engines.reports.bundle import report_zip, safe_stem
from engines.catalog import get_engine
from engines.errors import WorkbenchError
from engines.data.imageio import load_image
from engines.settings import get_settings
from engines.data.perturb import jpeg
from engines.data.synthetic import HOST_QUALITY, copy_moved_scene, procedural_scene, spliced_scene


def test_report_zip_holds_every_file_of_every_analysis(spliced_image, tmp_path: Path):
    image = load_image(spliced_image[0])
    analysis = get_engine("classic").analyze(image)
    archive = report_zip(image, [analysis], tmp_path, stem="my photo.jpg")
    assert archive == tmp_path / "my_photo_report.zip"
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"my_photo_classic.json", "my_photo_classic.html", "my_photo_classic_maps.npz",
            "my_photo_classic_overlay.png"} <= names
    assert {f"my_photo_classic_map_{m}.png" for m in analysis.maps} <= names
    with pytest.raises(WorkbenchError, match="analyse the image first"):
        report_zip(image, [], tmp_path)


def test_safe_stem_drops_folders_and_odd_characters():
    assert safe_stem("/tmp/gradio/abc/Holiday (1).JPG") == "Holiday_1"
    assert safe_stem("<array>") == "array" and safe_stem("...") == "image"


def test_scenes_are_deterministic_and_forgeries_change_only_inside_their_masks():
    assert np.array_equal(procedural_scene(4, 64, 80), procedural_scene(4, 64, 80))
    assert not np.array_equal(procedural_scene(4, 64, 80), procedural_scene(5, 64, 80))
    for seed, (forged, mask) in ((1, spliced_scene(1, 96, 128)), (2, copy_moved_scene(2, 96, 128))):
        host = jpeg(procedural_scene(seed, 96, 128), HOST_QUALITY)
        assert 0.01 < mask.mean() < 0.4
        assert np.array_equal(forged[~mask], host[~mask])
        assert (forged[mask] != host[mask]).any(axis=-1).mean() > 0.5


def test_shipped_examples_are_the_scenes_the_readme_describes():
    folder = get_settings().assets_dir / "examples"
    image = load_image(folder / "spliced.jpg")
    assert image.format == "JPEG" and image.jpeg_quality == 90
    mask = np.asarray(load_image(folder / "spliced_mask.png").rgb[..., 0]) > 127
    expected_image, expected_mask = spliced_scene(1)
    assert np.array_equal(mask, expected_mask)
    assert np.abs(image.rgb.astype(int) - expected_image).mean() < 3  # only JPEG loss


def test_report_record_is_evidence_grade(tmp_path: Path):
    """The input's SHA-256, UTC time, app version and commit, verdict in words with the reliability,
    the reading guide and the provenance, in the JSON and the printable HTML."""
    import hashlib
    import json

    source = get_settings().assets_dir / "examples" / "spliced.jpg"
    image = load_image(source)
    analysis = get_engine("classic").analyze(image)
    archive = report_zip(image, [analysis], tmp_path)
    folder = zipfile.ZipFile(archive)
    record = json.loads(folder.read("spliced_classic.json"))
    assert record["input"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert record["generated_utc"].endswith("+00:00") and record["app"]["version"] and record["app"]["commit"]
    assert record["verdict"]["headline"] and record["verdict"]["reliability"]
    assert record["reading_guide"].startswith("The heatmap fuses") and record["provenance"]["engine"] == "classic"
    page = folder.read("spliced_classic.html").decode()
    assert record["input"]["sha256"] in page and record["verdict"]["headline"] in page
    assert "@media print" in page and "How to read this" in page
