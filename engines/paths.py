"""Checking folder paths a user typed (GUI fields): they must make sense and lie under allowed roots.

Allowed roots: the shared folder, the runs folder, the cache folder, the user's home, the system
temporary folder, and every folder listed in the environment variable `FORGERY_DATA_ROOTS`
(separated by the platform's path separator, ':' on Linux). Paths are resolved (symbolic links
and '..' followed) before the check, so a link cannot lead outside the roots.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engines.errors import WorkbenchError
from engines.settings import get_settings

DATA_ROOTS_VARIABLE = "FORGERY_DATA_ROOTS"


def allowed_roots() -> list[Path]:
    settings = get_settings()
    roots = [settings.shared_dir, settings.runs_dir, settings.cache_dir, Path.home(),
             Path("/tmp"), Path(tempfile.gettempdir())]
    extra = os.environ.get(DATA_ROOTS_VARIABLE, "")
    roots += [Path(item).expanduser() for item in extra.split(os.pathsep) if item.strip()]
    unique: list[Path] = []
    for root in roots:
        resolved = root.resolve()
        if resolved not in unique:
            unique.append(resolved)
    return unique


def _resolve_typed(text: str | os.PathLike | None, what: str) -> Path:
    typed = str(text or "").strip()
    if not typed:
        raise WorkbenchError(f"Type the path of the {what}.")
    return Path(typed).expanduser().resolve()


def _check_allowed(path: Path, what: str) -> None:
    roots = allowed_roots()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise WorkbenchError(
            f"The {what} {path} lies outside the folders this workbench may use "
            f"({', '.join(str(r) for r in roots)}). Move it under one of them, or add its parent "
            f"to {DATA_ROOTS_VARIABLE} (several folders separated by '{os.pathsep}')."
        )


def check_input_dir(text: str | os.PathLike | None, what: str = "dataset folder",
                    allow_file: bool = False) -> Path:
    """An existing folder (or, with `allow_file`, an existing file) under an allowed root."""
    path = _resolve_typed(text, what)
    _check_allowed(path, what)
    if not path.exists():
        raise WorkbenchError(f"The {what} {path} does not exist. Check the spelling.")
    if not path.is_dir() and not allow_file:
        raise WorkbenchError(f"The {what} {path} is a file, not a folder.")
    return path


def check_output_dir(text: str | os.PathLike | None, what: str = "output folder") -> Path:
    """A folder that exists, or can be created, under an allowed root (it is not created here)."""
    path = _resolve_typed(text, what)
    _check_allowed(path, what)
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
