"""Dataset readers: every accepted on-disk format, the errors users meet, and the real benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.data.datasets import ForgeryDataset, Sample, open_dataset
from engines.errors import DatasetError
from engines.data.paths import DATA_ROOTS_VARIABLE
from engines.settings import get_settings


def write_image(path: Path, height: int = 6, width: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 90, dtype=np.uint8)).save(path)
    return path


def write_mask(path: Path, height: int = 6, width: int = 8) -> Path:
    """Left half 128 (tampered after binarising at > 127), right half 127 (pristine)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.full((height, width), 127, dtype=np.uint8)
    values[:, : width // 2] = 128
    Image.fromarray(values).save(path)
    return path


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    """tampered/{t1,t2}.png with masks, authentic/{a1,a2,a3}.jpg."""
    for stem in ("t1", "t2"):
        write_image(tmp_path / "tampered" / f"{stem}.png")
        write_mask(tmp_path / "masks" / f"{stem}.png")
    for stem in ("a1", "a2", "a3"):
        write_image(tmp_path / "authentic" / f"{stem}.jpg")
    return tmp_path


def test_folder_layout(folder_dataset: Path):
    dataset = open_dataset(folder_dataset)
    assert dataset.name == folder_dataset.name
    assert [s.image.name for s in dataset.tampered] == ["t1.png", "t2.png"]
    assert [s.image.name for s in dataset.authentic] == ["a1.jpg", "a2.jpg", "a3.jpg"]
    first = Sample(folder_dataset / "tampered/t1.png", folder_dataset / "masks/t1.png", True)
    assert dataset[0] == first
    assert dataset[2].mask is None


def test_load_binarises_mask_above_127(folder_dataset: Path):
    image, mask = open_dataset(folder_dataset).load(0)
    assert image.rgb.shape == (6, 8, 3)
    assert mask.dtype == bool
    assert mask[:, :4].all() and not mask[:, 4:].any()
    _, no_mask = open_dataset(folder_dataset).authentic.load(0)
    assert no_mask is None


def test_index_json_in_folder_and_direct(folder_dataset: Path):
    entries = [["tampered/t2.png", "masks/t2.png"], ["authentic/a1.jpg", "Negative"]]
    (folder_dataset / "index.json").write_text(json.dumps(entries))
    from_folder = open_dataset(folder_dataset)  # index.json wins over the folder scan
    from_file = open_dataset(folder_dataset / "index.json")
    assert from_folder.samples == from_file.samples
    assert from_file.name == folder_dataset.name
    assert [(s.image.name, s.tampered) for s in from_file] == [("t2.png", True), ("a1.jpg", False)]
    assert from_file[1].mask is None


def test_trufor_csv_with_header_and_none_masks(folder_dataset: Path):
    (folder_dataset / "test_list.csv").write_text(
        "image_path,mask_path\n"
        "tampered/t1.png,masks/t1.png\n"
        "authentic/a1.jpg,None\n"
        "authentic/a2.jpg,\n"
    )
    dataset = open_dataset(folder_dataset / "test_list.csv")
    assert dataset.name == "test_list"
    assert [(s.image.name, s.mask is not None, s.tampered) for s in dataset] == [
        ("t1.png", True, True),
        ("a1.jpg", False, False),
        ("a2.jpg", False, False),
    ]


def test_catnet_txt_without_header_and_absolute_paths_in_a_data_root(folder_dataset: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    image, mask = folder_dataset / "tampered/t2.png", folder_dataset / "masks/t2.png"
    list_file = tmp_path / "lists" / "CASIA_list.txt"
    list_file.parent.mkdir()
    list_file.write_text(f"{image},{mask}\n# a comment\n\n{folder_dataset / 'authentic/a3.jpg'},None\n")
    with pytest.raises(DatasetError, match="lead outside its folder"):
        open_dataset(list_file)
    monkeypatch.setenv(DATA_ROOTS_VARIABLE, str(folder_dataset))
    dataset = open_dataset(list_file)
    assert [s.image for s in dataset] == [image, folder_dataset / "authentic/a3.jpg"]
    assert dataset[0].mask == mask and dataset[0].tampered


def test_mvss_space_list_with_labels_and_detection_only(folder_dataset: Path):
    (folder_dataset / "mvss.txt").write_text(
        "tampered/t1.png masks/t1.png 1\n"
        "tampered/t2.png None 1\n"
        "authentic/a1.jpg None 0\n"
    )
    dataset = open_dataset(folder_dataset / "mvss.txt")
    labels = [(s.image.name, s.tampered) for s in dataset]
    assert labels == [("t1.png", True), ("t2.png", True), ("a1.jpg", False)]
    detection_only = dataset[1]
    assert detection_only.tampered and detection_only.mask is None


def test_root_overrides_where_relative_paths_point(folder_dataset: Path, tmp_path: Path):
    list_file = tmp_path / "elsewhere" / "list.txt"
    list_file.parent.mkdir()
    list_file.write_text("tampered/t1.png masks/t1.png 1\n")
    with pytest.raises(DatasetError, match="missing"):
        open_dataset(list_file)
    dataset = open_dataset(list_file, root=folder_dataset)
    assert dataset.root == folder_dataset
    assert dataset[0].image == folder_dataset / "tampered/t1.png"


def test_subset_interleaves_tampered_and_authentic(folder_dataset: Path):
    dataset = open_dataset(folder_dataset)
    names = [s.image.stem for s in dataset.subset(5)]
    assert names == ["t1", "a1", "t2", "a2", "a3"]
    assert [s.image.stem for s in dataset.subset(3)] == ["t1", "a1", "t2"]
    assert dataset.subset(None) is dataset
    assert len(dataset.subset(0)) == 0
    with pytest.raises(ValueError):
        dataset.subset(-1)


def test_slicing_keeps_name_and_root(folder_dataset: Path):
    dataset = open_dataset(folder_dataset)
    head = dataset[:2]
    assert isinstance(head, ForgeryDataset)
    assert (head.name, head.root, len(head)) == (dataset.name, dataset.root, 2)


def test_mask_size_mismatch_names_both_files(folder_dataset: Path):
    write_mask(folder_dataset / "masks" / "t2.png", height=5, width=8)
    dataset = open_dataset(folder_dataset)
    with pytest.raises(DatasetError) as error:
        dataset.load(1)
    message = str(error.value)
    assert "masks/t2.png" in message and "tampered/t2.png" in message
    assert "8×5" in message and "8×6" in message


def test_unreadable_mask_names_both_files(folder_dataset: Path):
    (folder_dataset / "masks" / "t1.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"masks/t1\.png.*tampered/t1\.png"):
        open_dataset(folder_dataset).load(0)


def test_missing_folder(tmp_path: Path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nowhere")


def test_missing_files_are_named_up_to_five(tmp_path: Path):
    entries = [[f"tampered/{n}.png", f"masks/{n}.png"] for n in range(4)]
    (tmp_path / "index.json").write_text(json.dumps(entries))
    with pytest.raises(DatasetError) as error:
        open_dataset(tmp_path)
    message = str(error.value)
    assert message.startswith("8 file(s)")
    assert "tampered/0.png" in message and "masks/1.png" in message
    assert "tampered/3.png" not in message and "and 3 more" in message


def test_missing_mask_in_folder_layout_is_named(folder_dataset: Path):
    (folder_dataset / "masks" / "t2.png").unlink()
    with pytest.raises(DatasetError, match=r"masks/t2\.png"):
        open_dataset(folder_dataset)


def test_malformed_json_names_the_line(tmp_path: Path):
    (tmp_path / "index.json").write_text('[\n  ["a.png", "Negative"],\n  ["b.png" "Negative"]\n]')
    with pytest.raises(DatasetError, match="line 3"):
        open_dataset(tmp_path)


def test_malformed_index_entry_names_the_entry(tmp_path: Path):
    (tmp_path / "index.json").write_text(json.dumps([["a.png", "Negative"], ["b.png"]]))
    with pytest.raises(DatasetError, match="entry 2"):
        open_dataset(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"a.png": "Negative"}))
    with pytest.raises(DatasetError, match="JSON list"):
        open_dataset(tmp_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("tampered/t1.png masks/t1.png 1\nauthentic/a1.jpg None maybe\n", "line 2: the label column is neither"),
        ("tampered/t1.png masks/t1.png 1 extra\n", "found 4 fields"),
    ],
)
def test_malformed_list_line_names_the_line(folder_dataset: Path, content: str, problem: str):
    (folder_dataset / "list.txt").write_text(content)
    with pytest.raises(DatasetError) as error:
        open_dataset(folder_dataset / "list.txt")
    assert f"list.txt, line {content.count(chr(10))}" in str(error.value)
    assert problem in str(error.value)


def test_unknown_formats(tmp_path: Path):
    (tmp_path / "data.yaml").write_text("images: []\n")
    with pytest.raises(DatasetError, match="Unknown dataset format"):
        open_dataset(tmp_path / "data.yaml")
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(DatasetError, match="not a dataset folder"):
        open_dataset(tmp_path / "empty_folder")
    (tmp_path / "empty.txt").write_text("# nothing listed\n")
    with pytest.raises(DatasetError, match="lists no images"):
        open_dataset(tmp_path / "empty.txt")


BENCHMARKS = get_settings().benchmarks_dir


@pytest.mark.parametrize(
    ("name", "n_tampered", "n_authentic"), [("casia1", 920, 800), ("coverage", 100, 100)]
)
def test_real_benchmark_index_parses(name: str, n_tampered: int, n_authentic: int):
    folder = BENCHMARKS / name
    if not (folder / "index.json").is_file():
        pytest.skip(f"benchmark {folder} not available")
    dataset = open_dataset(folder)
    assert (len(dataset.tampered), len(dataset.authentic)) == (n_tampered, n_authentic)
    assert all(s.mask is not None for s in dataset.tampered)
    image, mask = dataset.tampered.load(0)
    assert mask.shape == (image.height, image.width)
    assert 0 < mask.mean() < 1
