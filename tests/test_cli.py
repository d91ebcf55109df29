"""End to end: `python -m engines analyze` and `evaluate` on a slice of the real CASIA v1."""

from __future__ import annotations

import html
import json
import subprocess
import sys

import numpy as np
import pytest

from engines.cli import main
from engines.diffforensics.build import NOISE_KEY
from engines.settings import PROJECT_ROOT, get_settings
from engines.store.model_store import get_store
from engines.store.trained_weights import read_metadata
from engines.training.runs import list_runs

CASIA = get_settings().benchmarks_dir / "casia1"
needs_casia = pytest.mark.skipif(not (CASIA / "index.json").is_file(), reason="casia1 benchmark not found")


@needs_casia
def test_analyze_writes_a_complete_report(tmp_path):
    images = sorted((CASIA / "tampered").iterdir())[:2]
    assert main(["analyze", *map(str, images), "--engine", "classic", "--out", str(tmp_path)]) == 0
    stem = images[0].stem
    record = json.loads((tmp_path / f"{stem}_classic.json").read_text())
    assert record["provenance"]["engine"] == "classic"
    assert 0.0 <= record["score"] <= 1.0
    assert record["image"]["format"] == "JPEG"
    maps = np.load(tmp_path / f"{stem}_classic_maps.npz")
    assert maps["heatmap"].shape == maps["mask"].shape == (record["image"]["height"], record["image"]["width"])
    assert {"ela", "jpeg_ghost"} <= set(maps.files)
    for kind in ("overlay", "heatmap", "mask", "outline"):
        assert (tmp_path / f"{stem}_classic_{kind}.png").stat().st_size > 0
    page = (tmp_path / f"{stem}_classic.html").read_text()
    assert html.escape(record["verdict"]["headline"]) in page and html.escape(record["verdict"]["score_words"]) in page


@needs_casia
@pytest.mark.parametrize("perturb", [None, "jpeg=70"])
def test_evaluate_writes_metrics_json(tmp_path, perturb):
    out = tmp_path / "metrics.json"
    args = ["evaluate", "--engine", "classic", "--dataset", str(CASIA), "--limit", "6", "--json", str(out)]
    if perturb:
        args += ["--perturb", perturb]
    assert main(args) == 0
    metrics = json.loads(out.read_text())
    for key in ("pixel_f1", "pixel_iou", "pixel_auc", "image_auc", "seconds_per_image"):
        assert isinstance(metrics[key], float), key
    assert metrics["n_tampered"] == 3 and metrics["n_authentic"] == 3
    assert metrics["perturbation"] == ("none" if perturb is None else "jpeg(quality=70)")
    assert len(metrics["per_image"]) == 6
    assert all(r["f1"] is not None for r in metrics["per_image"] if r["tampered"])


@needs_casia
def test_evaluate_maps_scores_each_evidence_map_like_the_main_one(tmp_path):
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--engine", "classic", "--dataset", str(CASIA), "--limit", "4", "--maps",
                 "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert {"ela", "jpeg_ghost"} <= set(metrics["maps"])
    for scores in metrics["maps"].values():
        assert scores["n_images_pixel"] == 2 and scores["n_images_image"] == 4
        assert 0.0 <= scores["pixel_auc"] <= 1.0 and 0.0 <= scores["pixel_f1_best_oracle"] <= 1.0
    assert {m["pixel_auc"] for m in metrics["maps"].values()} != {metrics["pixel_auc"]}


def test_unknown_engine_exits_with_a_suggestion(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "engines", "analyze", "x.png", "--engine", "clasic", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Did you mean 'classic'" in result.stderr


def test_analyze_reports_unreadable_images(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    assert main(["analyze", str(bad), "--engine", "classic", "--out", str(tmp_path / "out")]) == 1
    assert f"failed {bad}:" in capsys.readouterr().err


@pytest.mark.skipif(get_store().find("efficientnet_lite0") is None, reason="EfficientNet-Lite0 weights not fetched")
def test_pretrain_runs_resumes_and_exports(tmp_path, capsys):
    from PIL import Image

    from engines.data.synthetic import procedural_scene

    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(2):
        Image.fromarray(procedural_scene(seed, 300, 320)).save(photos / f"{seed}.jpg")
    out, exported = tmp_path / "stage1", tmp_path / "copy.safetensors"
    args = ["train", "--engine", "diffforensics", "--stage", "pretrain", "--data", str(photos), "--out", str(out),
            "--epochs", "1", "--samples-per-epoch", "4", "--batch-size", "2", "--set", "diffusion.noise=gaussian",
            "--export", str(exported)]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 1 and len(summary["history"]) == 1
    assert read_metadata(out / "weights.safetensors")[NOISE_KEY] == "gaussian"
    assert list_runs(runs_dir=tmp_path, with_weights=False)[0].settings["stage"] == "pretrain"
    assert list_runs(runs_dir=tmp_path) == []  # stage-1 weights are not offered for analysis
    assert (out / "weights.safetensors").is_file() and exported.read_bytes() == (out / "weights.safetensors").read_bytes()
    assert main(args[:10] + ["2"] + args[11:]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 2
