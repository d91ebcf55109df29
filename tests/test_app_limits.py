"""What the served app bounds: upload size, and report files that do not pile up in /tmp."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from engines.catalog import get_engine
from engines.data.imageio import load_image
from engines.settings import get_settings
from ui.export import export_report
from ui.limits import max_upload_bytes


def test_the_upload_limit_follows_the_megapixel_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FORGERY_MAX_MEGAPIXELS", "10")
    get_settings.cache_clear()
    assert max_upload_bytes() == 66_000_000
    monkeypatch.undo()
    get_settings.cache_clear()
    assert max_upload_bytes() == int(get_settings().max_megapixels * 6.6e6)


def test_an_exported_report_leaves_only_its_zip_in_the_served_folder(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    image = load_image(get_settings().assets_dir / "examples" / "spliced.jpg")
    bundle = Path(export_report(image, [get_engine("classic").analyze(image)]))
    assert bundle.is_relative_to(tmp_path / "gradio") and bundle.name == "spliced_report.zip"
    assert "spliced_classic.html" in zipfile.ZipFile(bundle).namelist()
    assert list((tmp_path / "tmp").iterdir()) == [], "the unzipped report was removed"
