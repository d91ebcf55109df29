"""What a batch runs on: a folder (searched recursively), a glob, a single image, or a dataset
(folder with index.json or tampered/ and authentic/, an index .json, a CSV/TXT list).

Every path is confined like the rest of the app (`engines.data.paths`): the folder, the glob's fixed
part or the list must lie under a readable root, and each file found must still lie under one
after links are followed; a list may name files only in its own folder or a data root
(`engines.data.datasets`). Files are not opened here: the workers read them, and a file that is not
an image becomes an error row.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engines.data import paths
from engines.data.datasets import IMAGE_SUFFIXES, LIST_SUFFIXES, open_dataset
from engines.errors import DatasetError

GLOB_CHARACTERS = frozenset("*?[")
DATASET_FILE_SUFFIXES = LIST_SUFFIXES | {".json"}


@dataclass(frozen=True)
class BatchInput:
    path: str
    tampered: bool | None = None
    """From a dataset with labels; None when unknown (a folder, a glob, a list without labels)."""
    mask: str | None = None


def collect_inputs(text: str | os.PathLike, extra_roots: Iterable[str | os.PathLike] = ()) -> list[BatchInput]:
    """The images named by `text`, in a stable order (raises WorkbenchError with what to fix)."""
    typed = str(text).strip()
    extra = list(extra_roots)
    if GLOB_CHARACTERS & set(typed):
        return _confined(_glob_images(typed, extra), typed, extra)
    path = paths.check_input_dir(typed, "batch input", allow_file=True, extra_roots=extra)
    if _is_dataset(path):
        return _dataset_inputs(path, extra)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise DatasetError(f"The folder {path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        return _confined(found, typed, extra)
    return [BatchInput(str(path))]


def _is_dataset(path: Path) -> bool:
    if path.is_dir():
        return (path / "index.json").is_file() or (path / "tampered").is_dir() or (path / "authentic").is_dir()
    return path.suffix.lower() in DATASET_FILE_SUFFIXES


def _dataset_inputs(path: Path, extra: list) -> list[BatchInput]:
    """A dataset's images; labels are kept only when the list has any (a plain list of images,
    which `open_dataset` reads as authentic, says nothing about them)."""
    dataset = open_dataset(path, extra_roots=paths.allowed_roots(extra))
    labelled = any(sample.tampered for sample in dataset)
    return [BatchInput(str(s.image), s.tampered if labelled else None, str(s.mask) if s.mask else None)
            for s in dataset]


def _glob_images(pattern: str, extra: list) -> list[Path]:
    fixed = Path(pattern.split("*")[0].split("?")[0].split("[")[0])
    folder = fixed if str(fixed).endswith(os.sep) else fixed.parent
    paths.check_input_dir(folder, "folder of the pattern", extra_roots=extra)
    found = sorted(Path(p) for p in glob.glob(os.path.expanduser(pattern), recursive=True))
    images = [p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise DatasetError(f"The pattern {pattern} matches no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return images


def _confined(found: list[Path], typed: str, extra: list) -> list[BatchInput]:
    """The files whose real path lies under a readable root; refused as a whole otherwise."""
    roots = paths.allowed_roots(extra)
    resolved = [Path(os.path.realpath(p)) for p in found]
    outside = [str(p) for p, real in zip(found, resolved, strict=True) if not paths.is_within(real, roots)]
    if outside:
        raise DatasetError(
            f"{len(outside)} file(s) found by {typed} lead outside the folders this workbench may read "
            f"(e.g. {outside[0]}), so none was analysed. Remove those links, or add their folder to "
            f"{paths.DATA_ROOTS_VARIABLE}."
        )
    return [BatchInput(str(p)) for p in resolved]
