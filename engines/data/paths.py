"""Which folders the workbench may read and write, and the checks for paths a user typed.

- Data roots (read only): `<shared>/data` (benchmarks, photos), the photo folders of
  `FORGERY_PHOTOS`, and every folder listed in the environment variable `FORGERY_DATA_ROOTS`
  (separated by the platform's path separator, ':' on Linux). A dataset list may name files in its own folder or in a data root (engines.data.datasets).
- Readable roots: the runs folder, the cache folder, the data roots, and whatever the caller adds
  (the GUI adds its upload folder). Never `/`, `/tmp` or the home folder as a whole.
- Writable root: the runs folder only, and never inside the shared folder or a data root.

Paths are resolved (symbolic links and '..' followed) before every check, so a link cannot lead
outside the roots.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from engines.errors import WorkbenchError
from engines.settings import get_settings

DATA_ROOTS_VARIABLE = "FORGERY_DATA_ROOTS"


def _unique_resolved(paths: Iterable[Path]) -> list[Path]:
    unique: list[Path] = []
    for path in paths:
        resolved = Path(os.path.realpath(path))
        if resolved not in unique:
            unique.append(resolved)
    return unique


def data_roots() -> list[Path]:
    """The read-only data folders: `<shared>/data`, the extra photo folders and those in
    FORGERY_DATA_ROOTS."""
    settings = get_settings()
    extra = os.environ.get(DATA_ROOTS_VARIABLE, "")
    listed = [Path(item.strip()).expanduser() for item in extra.split(os.pathsep) if item.strip()]
    return _unique_resolved([settings.shared_dir / "data", *settings.extra_photo_dirs, *listed])


def allowed_roots(extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Folders a typed path may be read from: runs, cache, data roots, and `extra`."""
    settings = get_settings()
    return _unique_resolved([settings.runs_dir, settings.cache_dir, *data_roots(), *map(Path, extra)])


def is_within(path: Path, roots: Iterable[Path]) -> bool:
    """Whether the already resolved `path` is one of `roots` or lies below one."""
    return any(path == root or path.is_relative_to(root) for root in roots)


def _resolve_typed(text: str | os.PathLike | None, what: str) -> Path:
    typed = str(text or "").strip()
    if not typed:
        raise WorkbenchError(f"Type the path of the {what}.")
    return Path(os.path.realpath(Path(typed).expanduser()))


def check_input_dir(text: str | os.PathLike | None, what: str = "dataset folder",
                    allow_file: bool = False, extra_roots: Iterable[str | os.PathLike] = ()) -> Path:
    """An existing folder (or, with `allow_file`, an existing file) under an allowed root.

    The roots are checked before anything about the path itself, so a refusal says nothing about
    whether it exists.
    """
    path = _resolve_typed(text, what)
    roots = allowed_roots(extra_roots)
    if not is_within(path, roots):
        raise WorkbenchError(
            f"The {what} {path} lies outside the folders this workbench may read "
            f"({', '.join(str(r) for r in roots)}). Move it under one of them, or add its parent "
            f"to {DATA_ROOTS_VARIABLE} (several folders separated by '{os.pathsep}')."
        )
    if not path.exists():
        raise WorkbenchError(f"The {what} {path} does not exist. Check the spelling.")
    if not path.is_dir() and not allow_file:
        raise WorkbenchError(f"The {what} {path} is a file, not a folder.")
    return path


def _read_only_roots(runs: Path) -> list[Path]:
    """The shared folder and the data roots, except one holding the runs folder itself."""
    roots = _unique_resolved([get_settings().shared_dir, *data_roots()])
    return [root for root in roots if not is_within(runs, [root])]


def check_output_dir(text: str | os.PathLike | None, what: str = "output folder") -> Path:
    """A folder under the runs folder that exists, or can be created (it is not created here)."""
    path = _resolve_typed(text, what)
    runs = Path(os.path.realpath(get_settings().runs_dir))
    if not is_within(path, [runs]) or is_within(path, _read_only_roots(runs)):
        raise WorkbenchError(
            f"The {what} {path} is not in the runs folder {runs}, the only folder the workbench "
            f"writes to (data folders are read only). Choose a folder inside it, e.g. {runs / path.name}, "
            "or start the workbench with FORGERY_RUNS set to another folder."
        )
    if path.exists():
        if not path.is_dir():
            raise WorkbenchError(f"The {what} {path} is a file, not a folder.")
        if not os.access(path, os.W_OK):
            raise WorkbenchError(f"The {what} {path} is not writable.")
        return path
    parent = next(p for p in path.parents if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise WorkbenchError(f"The {what} {path} cannot be created: {parent} is not a writable folder.")
    return path
