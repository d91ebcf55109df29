"""Forgery datasets: one sample list read from any of the common on-disk conventions.

Accepted by ``open_dataset`` (see docs/metrics.md for how samples are then scored):

- a folder with ``index.json`` (IMDL-BenCo): a JSON list of ``[image, mask]`` pairs, the mask
  being the string ``"Negative"`` for an authentic image; or the path of such a ``.json`` file;
- a folder with ``tampered/``, ``masks/`` (``<tampered stem>.png``) and ``authentic/``;
- a ``.csv``/``.txt`` list with one image per line, either comma-separated (TruFor / CAT-Net
  lists: ``image,mask[,label]``, an optional header line) or whitespace-separated (MVSS-Net lists:
  ``image mask label``). A mask written as empty, ``None``, ``Negative`` or ``-`` means "no mask".
  Without a label column, a line with a mask is tampered and one without is authentic. With a label
  column (1/0, true/false, tampered/authentic, fake/real) a tampered line may lack a mask: such a
  sample counts for image-level detection metrics only.

Relative paths are resolved against the dataset folder, or the folder holding the index or list
file, unless ``root`` is given. Masks are binarised at > 127 when loaded.

A list is data from outside, so it is confined: every listed path must name an image file (by its
extension) and must lie, after following links and '..', inside the dataset's folder or a data
root (``engines.data.paths.data_roots``); anything else is refused before it is opened, so a refusal
says nothing about whether the file exists. Messages name entries by line or entry number and
never repeat a line of the list that is not an image path.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, zip_longest
from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image

from engines.data import paths
from engines.errors import DatasetError, ImageInputError
from engines.data.imageio import LoadedImage, load_image, load_mask

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
NO_MASK = frozenset({"", "none", "null", "negative", "-"})
TAMPERED_LABELS = frozenset({"1", "true", "tampered", "fake", "forged", "manipulated"})
AUTHENTIC_LABELS = frozenset({"0", "false", "authentic", "real", "pristine"})
LIST_SUFFIXES = frozenset({".csv", ".txt", ".lst"})
MAX_NAMED_FILES = 5
MAX_LIST_BYTES = 64 * 1024 * 1024
"""An index or list this large is not a dataset list (the largest benchmark lists are ~1 MB)."""


@dataclass(frozen=True)
class Sample:
    """One image of a dataset.

    mask: None for authentic images, and for tampered images of detection-only lists (lists with
    a label column may mark an image tampered without giving its mask). An authentic image listed
    with a mask (usually all black) keeps it.
    """

    image: Path
    mask: Path | None
    tampered: bool


class ForgeryDataset(Sequence[Sample]):
    """An ordered, immutable list of samples with the folder it came from."""

    def __init__(self, samples: Iterable[Sample], *, root: Path, name: str) -> None:
        self.samples: tuple[Sample, ...] = tuple(samples)
        self.root = root
        self.name = name

    def __len__(self) -> int:
        return len(self.samples)

    @overload
    def __getitem__(self, index: int) -> Sample: ...
    @overload
    def __getitem__(self, index: slice) -> ForgeryDataset: ...
    def __getitem__(self, index: int | slice) -> Sample | ForgeryDataset:
        if isinstance(index, slice):
            return self._with(self.samples[index])
        return self.samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __repr__(self) -> str:
        return (
            f"ForgeryDataset({self.name!r}, {len(self.tampered)} tampered, "
            f"{len(self.authentic)} authentic, root={str(self.root)!r})"
        )

    def _with(self, samples: Iterable[Sample]) -> ForgeryDataset:
        return ForgeryDataset(samples, root=self.root, name=self.name)

    @property
    def tampered(self) -> ForgeryDataset:
        return self._with(s for s in self.samples if s.tampered)

    @property
    def authentic(self) -> ForgeryDataset:
        return self._with(s for s in self.samples if not s.tampered)

    def subset(self, limit: int | None) -> ForgeryDataset:
        """The first ``limit`` samples of the balanced interleaved order.

        That order alternates tampered and authentic samples, each kind in listed order
        (t1, a1, t2, a2, ...), and goes on with the remaining kind once the other runs out, so
        any limit keeps the two kinds as balanced as the dataset allows, deterministically.
        None keeps every sample in listed order.
        """
        if limit is None:
            return self
        if limit < 0:
            raise ValueError(f"limit must be zero or more, got {limit}")
        pairs = zip_longest(self.tampered.samples, self.authentic.samples)
        interleaved = [s for s in chain.from_iterable(pairs) if s is not None]
        return self._with(interleaved[:limit])

    def load(self, index: int) -> tuple[LoadedImage, np.ndarray | None]:
        """The sample's image and its bool mask (None when it has no mask)."""
        sample = self.samples[index]
        image = load_image(sample.image)
        if sample.mask is None:
            return image, None
        try:
            mask = load_mask(sample.mask)
        except ImageInputError as error:
            raise DatasetError(
                f"Mask {sample.mask} of image {sample.image} cannot be used: {error}"
            ) from error
        if mask.shape != (image.height, image.width):
            raise DatasetError(
                f"Mask {sample.mask} is {mask.shape[1]}×{mask.shape[0]} but its image "
                f"{sample.image} is {image.width}×{image.height} (width×height): a mask must have "
                "exactly its image's size. Fix or remove this entry of the dataset."
            )
        return image, mask


def open_dataset(path: str | Path, *, root: str | Path | None = None,
                 extra_roots: Iterable[str | Path] = ()) -> ForgeryDataset:
    """Read a dataset folder, index or list (formats in the module docstring).

    Listed files must lie in the dataset's folder (`root` when given), a data root or one of
    `extra_roots`. Raises DatasetError for a missing path, an unknown format, a malformed index or
    line (named by entry or line number), listed paths outside those folders, listed files that
    do not exist, or a dataset with no samples.
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise DatasetError(
            f"Dataset {source} does not exist. Give a dataset folder (with index.json, or with "
            "tampered/, masks/ and authentic/) or an index or list file (.json, .csv, .txt)."
        )
    if root is not None:
        base = Path(root).expanduser()
    else:
        base = source if source.is_dir() else source.parent
    if source.is_dir():
        name = source.name
        if (source / "index.json").is_file():
            samples = _read_index(source / "index.json", base)
        elif (source / "tampered").is_dir() or (source / "authentic").is_dir():
            samples = _read_folders(base)
        else:
            raise DatasetError(
                f"{source} is not a dataset folder: it has neither index.json nor tampered/ and "
                "authentic/ subfolders. Point at the folder that holds them, or at a list file."
            )
    elif source.suffix.lower() == ".json":
        name = source.parent.name if source.stem == "index" else source.stem
        samples = _read_index(source, base)
    elif source.suffix.lower() in LIST_SUFFIXES:
        name = source.stem
        samples = _read_list(source, base)
    else:
        raise DatasetError(
            f"Unknown dataset format for {source}: expected a folder, an index .json or a list "
            f"file ({', '.join(sorted(LIST_SUFFIXES))})."
        )
    if not samples:
        raise DatasetError(f"Dataset {source} lists no images.")
    roots = [Path(os.path.realpath(base)), *paths.data_roots(), *(Path(os.path.realpath(r)) for r in extra_roots)]
    confined = _confined(samples, source, base, roots)
    _check_files_exist(confined, source)
    return ForgeryDataset(confined, root=base, name=name)


def _resolve(base: Path, entry: str) -> Path:
    entry_path = Path(entry).expanduser()
    return entry_path if entry_path.is_absolute() else base / entry_path


def _image_suffixes() -> frozenset[str]:
    return frozenset(Image.registered_extensions())


def _sample(base: Path, image: str, mask: str, where: str, tampered: bool | None = None) -> Sample:
    """A sample from listed text; without a label, having a mask is what marks it tampered."""
    has_mask = mask.strip().lower() not in NO_MASK
    for column, text in (("image", image), ("mask", mask if has_mask else "")):
        if text and Path(text.strip()).suffix.lower() not in _image_suffixes():
            raise DatasetError(
                f"{where}: the {column} column does not name an image file (.png, .jpg, .tif, …), so "
                "this is not a dataset list; its lines are not shown."
            )
    return Sample(
        _resolve(base, image),
        _resolve(base, mask) if has_mask else None,
        has_mask if tampered is None else tampered,
    )


def _read_text(path: Path) -> str:
    """The text of an index or list, refused unread when it is not a regular file of list size."""
    try:
        info = path.stat()
    except OSError as error:
        raise DatasetError(f"{path} cannot be read ({error.strerror}).") from error
    if not stat.S_ISREG(info.st_mode):
        raise DatasetError(f"{path} is not a regular file (a device, pipe or socket), so it is not a dataset list.")
    if info.st_size > MAX_LIST_BYTES:
        raise DatasetError(f"{path} is {info.st_size / 2**20:.0f} MB, too large for a dataset list "
                           f"(at most {MAX_LIST_BYTES // 2**20} MB).")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{path} is not a UTF-8 text file ({error.reason} at byte {error.start})."
        ) from error


def _read_index(index: Path, base: Path) -> list[Sample]:
    """IMDL-BenCo's index: a JSON list of [image, mask | "Negative"]."""
    try:
        entries = json.loads(_read_text(index))
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"{index} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from error
    except RecursionError as error:
        raise DatasetError(
            f"{index} nests lists or objects too deeply to be a dataset index (an index is a flat "
            "list of [image, mask] pairs)."
        ) from error
    if not isinstance(entries, list):
        raise DatasetError(
            f"{index} must hold a JSON list of [image, mask] pairs, found {type(entries).__name__}."
        )
    samples = []
    for number, entry in enumerate(entries, start=1):
        is_pair = isinstance(entry, list) and len(entry) == 2
        if not (is_pair and all(isinstance(part, str) for part in entry)):
            raise DatasetError(
                f"{index}, entry {number}: expected [image, mask] (two strings, mask \"Negative\" for "
                f"an authentic image), found {_kind_of(entry)}."
            )
        samples.append(_sample(base, *entry, where=f"{index}, entry {number}"))
    return samples


def _kind_of(value: object) -> str:
    """What a JSON value is, without its contents."""
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return {dict: "an object", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_folders(base: Path) -> list[Sample]:
    """tampered/<name> with masks/<stem>.png, and authentic/<name>."""
    tampered = [
        Sample(image, base / "masks" / f"{image.stem}.png", True)
        for image in _images_in(base / "tampered")
    ]
    authentic = [Sample(image, None, False) for image in _images_in(base / "authentic")]
    return tampered + authentic


def _parse_label(text: str, where: str) -> bool:
    label = text.strip().lower()
    if label in TAMPERED_LABELS:
        return True
    if label in AUTHENTIC_LABELS:
        return False
    raise DatasetError(
        f"{where}: the label column is neither tampered ({', '.join(sorted(TAMPERED_LABELS))}) nor "
        f"authentic ({', '.join(sorted(AUTHENTIC_LABELS))})."
    )


def _list_rows(list_file: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank, non-comment line; commas if any line has one."""
    lines = _read_text(list_file).splitlines()
    numbered = [
        (number, line)
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if any("," in line for _, line in numbered):
        for number, line in numbered:
            yield number, [field.strip() for field in next(csv.reader([line]))]
    else:
        for number, line in numbered:
            yield number, line.split()


def _is_header(fields: list[str]) -> bool:
    """A header names its columns ('image,mask'): its first field has no file extension."""
    return bool(fields[0]) and Path(fields[0]).suffix == ""


def _read_list(list_file: Path, base: Path) -> list[Sample]:
    """TruFor / CAT-Net comma lists and MVSS-Net space lists: image, mask[, label] per line."""
    samples = []
    for position, (number, fields) in enumerate(_list_rows(list_file)):
        where = f"{list_file}, line {number}"
        if position == 0 and _is_header(fields):
            continue
        if not 1 <= len(fields) <= 3 or not fields[0]:
            raise DatasetError(
                f"{where}: expected 'image, mask[, label]' (mask None for an authentic image), "
                f"found {len(fields)} fields."
            )
        label = _parse_label(fields[2], where) if len(fields) == 3 else None
        samples.append(_sample(base, fields[0], fields[1] if len(fields) > 1 else "", where, label))
    return samples


def _confined(samples: list[Sample], source: Path, base: Path, roots: list[Path]) -> list[Sample]:
    """The samples with their paths resolved; refused when any path resolves outside `roots`.

    The refusal depends only on where a path leads (nothing is opened), never on whether the file
    exists, so it reveals nothing about the files it names.
    """
    resolved, outside = [], []
    for sample in samples:
        image = Path(os.path.realpath(sample.image))
        mask = Path(os.path.realpath(sample.mask)) if sample.mask is not None else None
        outside += [str(listed) for listed, real in ((sample.image, image), (sample.mask, mask))
                    if real is not None and not paths.is_within(real, roots)]
        resolved.append(Sample(image, mask, sample.tampered))
    if outside:
        named = ", ".join(outside[:MAX_NAMED_FILES])
        more = f" and {len(outside) - MAX_NAMED_FILES} more" if len(outside) > MAX_NAMED_FILES else ""
        raise DatasetError(
            f"{len(outside)} path(s) listed by dataset {source} lead outside its folder {base} and the "
            f"data roots, so they were not opened: {named}{more}. A dataset may list files in its own "
            f"folder, or in a data root ({', '.join(str(r) for r in roots[1:])}); add a folder to "
            f"{paths.DATA_ROOTS_VARIABLE} to allow it."
        )
    return resolved


def _check_files_exist(samples: list[Sample], source: Path) -> None:
    listed = chain.from_iterable((s.image, s.mask) for s in samples)
    missing = [str(p) for p in listed if p is not None and not p.is_file()]
    if missing:
        named = ", ".join(missing[:MAX_NAMED_FILES])
        more = f" and {len(missing) - MAX_NAMED_FILES} more" if len(missing) > MAX_NAMED_FILES else ""
        raise DatasetError(f"{len(missing)} file(s) of dataset {source} are missing: {named}{more}.")
