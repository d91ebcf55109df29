"""Batches on the command line: one bad image never stops the others, and the exit status says
whether anything failed (0 all done, 1 some images failed, 2 a usage error)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engines.cli import main
from engines.settings import get_settings
from synthetic_data import write_dataset

GOOD = get_settings().assets_dir / "examples" / "spliced.jpg"


def tiny_image(path: Path) -> Path:
    """Readable, but 4×4 pixels, below what any engine analyses: it is refused."""
    cv2.imwrite(str(path), np.full((4, 4, 3), 128, np.uint8))
    return path


def test_analyze_refuses_per_image_analyses_the_rest_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture):
    refused, unreadable = tiny_image(tmp_path / "tiny.png"), tmp_path / "notes.jpg"
    unreadable.write_text("not an image")
    assert main(["analyze", str(refused), str(GOOD), str(unreadable), "--engine", "classic",
                 "--out", str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line)["image"] for line in out.splitlines()] == [str(GOOD)]
    assert (tmp_path / "out" / "spliced_classic.html").is_file()
    assert f"failed {refused}: " in err and "4×4" in err
    assert f"failed {unreadable}:" in err
    assert err.rstrip().splitlines()[-1] == (f"analysed 1 of 3 image(s) with classic; 2 failed: {refused}, "
                                             f"{unreadable}")


def test_analyze_exits_0_when_every_image_is_analysed(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(["analyze", str(GOOD), "--engine", "classic", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().err.strip() == "analysed 1 of 1 image(s) with classic"


@pytest.fixture
def half_broken(tmp_path: Path) -> Path:
    """Four tampered images: one mask of the wrong size, one image the engine refuses."""
    data = write_dataset(tmp_path / "data", n_tampered=4, n_authentic=0)
    cv2.imwrite(str(data / "masks" / "t1.png"), np.zeros((10, 10), np.uint8))
    tiny_image(data / "tampered" / "t2.jpg")
    cv2.imwrite(str(data / "masks" / "t2.png"), np.full((4, 4), 255, np.uint8))
    return data


def evaluate(data: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "--engine", "classic", "--dataset", str(data), "--json", str(out), *extra])


def test_evaluate_lists_failed_images_and_exits_1(half_broken: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    assert evaluate(half_broken, tmp_path / "m.json") == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["n_failed"] == 2 and json.loads(out)["n_tampered"] == 2
    assert "failed " + str((half_broken / "tampered" / "t1.jpg").resolve()) in err and "10×10" in err
    assert "failed " + str((half_broken / "tampered" / "t2.jpg").resolve()) in err and "4×4" in err
    assert "2 of 4 image(s) failed (50%), above the tolerated 0%" in err
    rows = json.loads((tmp_path / "m.json").read_text())["per_image"]
    assert [row["error"] is not None for row in rows] == [False, True, True, False]


def test_evaluate_tolerates_a_stated_fraction_of_failures(half_broken: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture):
    assert evaluate(half_broken, tmp_path / "m.json", "--max-failed", "0.5") == 0
    assert "within the tolerated 50%" in capsys.readouterr().err
    assert evaluate(half_broken, tmp_path / "m.json", "--max-failed", "0.49") == 1
    with pytest.raises(SystemExit):
        evaluate(half_broken, tmp_path / "m.json", "--max-failed", "1.5")


def test_evaluate_of_a_clean_dataset_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture):
    data = write_dataset(tmp_path / "data", n_tampered=2, n_authentic=1)
    assert evaluate(data, tmp_path / "m.json") == 0
    assert capsys.readouterr().err.count("failed") == 0


def test_a_deeply_nested_index_is_a_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "index.json").write_text("[" * 50_000 + "]" * 50_000)
    assert evaluate(tmp_path, tmp_path / "m.json") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nests lists or objects too deeply" in err and "Traceback" not in err


def test_a_dataset_listing_files_outside_its_folder_exits_2_unread(tmp_path: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "list.txt").write_text("../../../../../../etc/passwd.png None\n")
    assert evaluate(tmp_path / "list.txt", tmp_path / "m.json") == 2
    assert "lead outside its folder" in capsys.readouterr().err and not (tmp_path / "m.json").exists()
