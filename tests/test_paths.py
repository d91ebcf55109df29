"""User-typed folder checks: existence, kind, writability and the allowed roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.errors import WorkbenchError
from engines.paths import DATA_ROOTS_VARIABLE, allowed_roots, check_input_dir, check_output_dir


def test_existing_folder_under_tmp_is_accepted_and_resolved(tmp_path: Path):
    (tmp_path / "data").mkdir()
    assert check_input_dir(f"  {tmp_path}/data/../data  ") == (tmp_path / "data").resolve()


def test_missing_empty_and_file_inputs_are_refused_with_reasons(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="does not exist"):
        check_input_dir(tmp_path / "nowhere")
    with pytest.raises(WorkbenchError, match="Type the path"):
        check_input_dir("   ")
    index = tmp_path / "index.json"
    index.write_text("[]")
    with pytest.raises(WorkbenchError, match="is a file, not a folder"):
        check_input_dir(index)
    assert check_input_dir(index, allow_file=True) == index.resolve()


def test_paths_outside_the_roots_are_refused_even_through_a_link(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="outside the folders"):
        check_input_dir("/usr/lib")
    link = tmp_path / "escape"
    link.symlink_to("/usr/lib")
    with pytest.raises(WorkbenchError, match=DATA_ROOTS_VARIABLE):
        check_input_dir(link)


def test_extra_roots_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(DATA_ROOTS_VARIABLE, "/usr/lib:/opt")
    assert Path("/usr/lib").resolve() in allowed_roots()
    assert check_input_dir("/usr/lib") == Path("/usr/lib").resolve()


def test_output_folder_may_be_new_but_not_a_file_or_unwritable(tmp_path: Path):
    assert check_output_dir(tmp_path / "new" / "deeper") == (tmp_path / "new" / "deeper").resolve()
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkbenchError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(WorkbenchError, match="cannot be created"):
        check_output_dir(tmp_path / "file" / "below")
