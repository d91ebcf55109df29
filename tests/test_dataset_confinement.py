"""A hostile corpus of dataset lists: traversal, absolute paths, links out, secrets-looking files,
devices and deep nesting. Each is refused before any listed file is opened, the refusal does not
say whether a file exists, and no message repeats a line of the list."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engines.data.datasets import open_dataset
from engines.errors import DatasetError
from engines.data.paths import DATA_ROOTS_VARIABLE
from synthetic_data import write_dataset

SECRET = "hunter2-db-password"


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "data", n_tampered=1, n_authentic=1)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A real image outside the dataset folder (the kind of file a list must not reach)."""
    return write_dataset(tmp_path / "private", n_tampered=1, n_authentic=0) / "tampered" / "t0.jpg"


def refusal(path: Path) -> str:
    with pytest.raises(DatasetError) as error:
        open_dataset(path)
    message = str(error.value)
    assert SECRET not in message and "Traceback" not in message
    return message


def index_with(dataset: Path, image: str, mask: str = "Negative") -> Path:
    (dataset / "index.json").write_text(json.dumps([["tampered/t0.jpg", "masks/t0.png"], [image, mask]]))
    return dataset


@pytest.mark.parametrize("entry", ["../../../../../../etc/passwd", "/etc/shadow", "~/.bashrc", "/root/.ssh/id_rsa",
                                   "../private/tampered/t0.jpg.bak"])
def test_entries_that_are_not_image_paths_are_refused_by_entry_number(dataset: Path, entry: str):
    message = refusal(index_with(dataset, entry))
    assert "entry 2" in message and "does not name an image file" in message and entry not in message


@pytest.mark.parametrize("kind", ["traversal", "absolute", "home"])
def test_image_paths_outside_the_folder_are_refused_alike_whether_or_not_they_exist(dataset: Path, outside: Path,
                                                                                    kind: str):
    existing = {"traversal": "../private/tampered/t0.jpg", "absolute": str(outside),
                "home": "~/../../" + str(outside).lstrip("/")}[kind]
    missing = existing.replace("t0.jpg", "t9.jpg")
    first, second = refusal(index_with(dataset, existing)), refusal(index_with(dataset, missing))
    assert "1 path(s)" in first and "lead outside its folder" in first and "not opened" in first
    assert first.replace("t0.jpg", "t9.jpg") == second
    assert "missing" not in first + second and "exist" not in first + second


def test_a_mask_column_outside_the_folder_is_refused_too(dataset: Path, outside: Path):
    assert "lead outside" in refusal(index_with(dataset, "tampered/t0.jpg", str(outside)))


def test_links_out_of_the_folder_are_refused_in_lists_and_in_the_folder_layout(dataset: Path, outside: Path):
    (dataset / "tampered" / "link.jpg").symlink_to(outside)
    assert "lead outside" in refusal(index_with(dataset, "tampered/link.jpg"))
    (dataset / "index.json").unlink()
    assert "tampered/link.jpg" in refusal(dataset)


def test_a_link_to_an_image_inside_the_folder_is_fine(dataset: Path):
    (dataset / "authentic" / "alias.jpg").symlink_to(dataset / "authentic" / "a0.jpg")
    assert len(open_dataset(index_with(dataset, "authentic/alias.jpg"))) == 2


def test_absolute_paths_into_a_configured_data_root_are_allowed(dataset: Path, outside: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(DATA_ROOTS_VARIABLE, str(outside.parent.parent))
    loaded = open_dataset(index_with(dataset, str(outside)))
    assert loaded[1].image == outside.resolve()


@pytest.mark.parametrize(("name", "content"), [
    (".env.txt", f"DB_USER=admin\nDB_PASSWORD={SECRET}\n"),
    ("secrets.csv", f"user,password\nadmin,{SECRET}\n"),
    ("keys.lst", f"aws_secret {SECRET}\n"),
    ("config.json", json.dumps({"password": SECRET})),
    ("tokens.json", json.dumps([[SECRET, "Negative"]])),
    ("pairs.json", json.dumps([[SECRET, 7]])),
])
def test_secrets_looking_files_are_refused_without_repeating_a_line(tmp_path: Path, name: str, content: str):
    (tmp_path / name).write_text(content)
    refusal(tmp_path / name)


def test_a_deeply_nested_index_is_refused_with_a_message(tmp_path: Path):
    (tmp_path / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "nests lists or objects too deeply" in refusal(tmp_path)


def test_a_device_or_pipe_as_the_list_is_refused_unread(tmp_path: Path):
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    assert "not a regular file" in refusal(tmp_path / "zero.txt")
    os.mkfifo(tmp_path / "index.json")
    assert "not a regular file" in refusal(tmp_path / "index.json")
