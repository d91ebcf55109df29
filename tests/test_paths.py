"""User-typed folder checks: existence, kind, writability and the allowed roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.errors import WorkbenchError
from engines.data.paths import DATA_ROOTS_VARIABLE, allowed_roots, check_input_dir, check_output_dir, data_roots
from engines.settings import get_settings


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Runs, shared folder and one data root of their own, under tmp_path."""
    folders = {name: tmp_path / name for name in ("runs", "shared", "data")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setenv("FORGERY_RUNS", str(folders["runs"]))
    monkeypatch.setenv("FORGERY_SHARED", str(folders["shared"]))
    monkeypatch.setenv(DATA_ROOTS_VARIABLE, str(folders["data"]))
    get_settings.cache_clear()
    yield folders
    monkeypatch.undo()
    get_settings.cache_clear()


def test_existing_folder_under_a_data_root_is_accepted_and_resolved(roots: dict[str, Path]):
    (roots["data"] / "set").mkdir()
    assert check_input_dir(f"  {roots['data']}/set/../set  ") == (roots["data"] / "set").resolve()


def test_missing_empty_and_file_inputs_are_refused_with_reasons(roots: dict[str, Path]):
    with pytest.raises(WorkbenchError, match="does not exist"):
        check_input_dir(roots["data"] / "nowhere")
    with pytest.raises(WorkbenchError, match="Type the path"):
        check_input_dir("   ")
    index = roots["data"] / "index.json"
    index.write_text("[]")
    with pytest.raises(WorkbenchError, match="is a file, not a folder"):
        check_input_dir(index)
    assert check_input_dir(index, allow_file=True) == index.resolve()


@pytest.mark.parametrize("typed", ["/", "/tmp", "~", "~/.config", "/etc/passwd", "/usr/lib", "/root/.bashrc"])
def test_root_tmp_home_and_system_paths_are_refused_without_saying_whether_they_exist(roots, typed: str):
    with pytest.raises(WorkbenchError, match="outside the folders") as error:
        check_input_dir(typed, allow_file=True)
    assert "does not exist" not in str(error.value)


def test_the_roots_are_runs_cache_and_data_not_tmp_or_home(roots: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path):
    listed = allowed_roots()
    assert listed[0] == roots["runs"].resolve() and get_settings().cache_dir in listed
    assert data_roots() == [(roots["shared"] / "data").resolve(), roots["data"].resolve()]
    assert not {Path("/"), Path("/tmp"), Path.home().resolve()} & set(listed)
    monkeypatch.setenv("FORGERY_PHOTOS", str(tmp_path / "photos"))
    get_settings.cache_clear()
    assert (tmp_path / "photos").resolve() in data_roots()


def test_a_link_out_of_the_roots_is_refused(roots: dict[str, Path]):
    link = roots["data"] / "escape"
    link.symlink_to("/usr/lib")
    with pytest.raises(WorkbenchError, match=DATA_ROOTS_VARIABLE):
        check_input_dir(link)


def test_extra_roots_come_from_the_environment_or_the_caller(roots, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    with pytest.raises(WorkbenchError, match="outside the folders"):
        check_input_dir(uploads)
    assert check_input_dir(uploads, extra_roots=[uploads]) == uploads.resolve()
    monkeypatch.setenv(DATA_ROOTS_VARIABLE, "/usr/lib:/opt")
    assert Path("/usr/lib").resolve() in allowed_roots()
    assert check_input_dir("/usr/lib") == Path("/usr/lib").resolve()


def test_output_folder_may_be_new_but_not_a_file_or_unwritable(roots: dict[str, Path]):
    runs = roots["runs"]
    assert check_output_dir(runs / "new" / "deeper") == (runs / "new" / "deeper").resolve()
    (runs / "file").write_text("x")
    with pytest.raises(WorkbenchError, match="is a file"):
        check_output_dir(runs / "file")
    with pytest.raises(WorkbenchError, match="cannot be created"):
        check_output_dir(runs / "file" / "below")


@pytest.mark.parametrize("where", ["data", "shared", "home", "tmp", "link"])
def test_outputs_go_only_under_the_runs_folder_never_into_data(roots: dict[str, Path], where: str):
    (roots["runs"] / "link").symlink_to(roots["data"])
    typed = {"data": roots["data"] / "run", "shared": roots["shared"] / "data" / "benchmarks" / "run",
             "home": "~/.config/run", "tmp": "/tmp/run", "link": roots["runs"] / "link" / "run"}[where]
    with pytest.raises(WorkbenchError, match="only folder the workbench writes to"):
        check_output_dir(typed)
