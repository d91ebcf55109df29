"""The photo folder a dataset is forged from: which files are usable, and square crops of them.

Scanning reads only image headers (fast even for thousands of photos); a file whose header reads
but whose pixels do not decode is caught when a sample loads it (`PhotoUnreadable`), and that
sample then draws another photo.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from engines.errors import ImageInputError, WorkbenchError
from engines.data.imageio import load_image

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
MIN_UPSCALE_FRACTION = 0.5
"""Photos whose short side is below this fraction of the output size are skipped, not upscaled."""
MAX_CROP_SHRINK = 0.5
"""A crop side is drawn between this fraction of the photo's short side (at least the output size)
and the whole short side, so large photos give both close-ups and wide views."""


class PhotoUnreadable(WorkbenchError):
    """A listed photo's pixels could not be decoded."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


@dataclass(frozen=True)
class PhotoSet:
    """Usable photos (relative to `root`, sorted) and what was skipped while scanning.

    Photos of extra folders (`extra_roots`) are named `+<i>/<path>`: relative to the i-th extra
    folder, so that names stay unique and short in metadata."""

    root: Path
    photos: tuple[str, ...]
    unreadable: tuple[str, ...] = ()
    too_small: tuple[str, ...] = ()
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Relative path -> (width, height) from the header."""
    extra_roots: tuple[Path, ...] = ()

    def path(self, relative: str) -> Path:
        if relative.startswith("+"):
            number, rest = relative[1:].split("/", 1)
            return self.extra_roots[int(number)] / rest
        return self.root / relative

    def relative(self, path: Path) -> str:
        for number, extra in enumerate(self.extra_roots):
            if path.is_relative_to(extra):
                return f"+{number}/{path.relative_to(extra).as_posix()}"
        return path.relative_to(self.root).as_posix()

    def split(self, fraction: float, seed: int) -> tuple[PhotoSet, PhotoSet]:
        """(training, held-out) photo sets: about `fraction` of the photos held out, chosen by a
        seeded hash of each name, so a photo never feeds both sides whatever else is added."""
        def held_out(name: str) -> bool:
            digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
            return int.from_bytes(digest[:8], "big") / 2**64 < fraction

        held = tuple(p for p in self.photos if held_out(p))
        kept = tuple(p for p in self.photos if not held_out(p))
        if not held or not kept:
            raise WorkbenchError(f"{len(self.photos)} photos are too few to hold out {fraction:.0%} of them.")
        return dataclasses.replace(self, photos=kept), dataclasses.replace(self, photos=held)


def scan_photo_folders(roots: Sequence[Path | str], size: int) -> PhotoSet:
    """`scan_photos` over several folders: the first is `root`, the others `extra_roots`."""
    sets = [scan_photos(root, size) for root in roots]
    first, extras = sets[0], sets[1:]
    def renamed(number: int, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(f"+{number}/{name}" for name in names)
    return PhotoSet(
        first.root,
        first.photos + sum((renamed(i, s.photos) for i, s in enumerate(extras)), ()),
        first.unreadable + sum((renamed(i, s.unreadable) for i, s in enumerate(extras)), ()),
        first.too_small + sum((renamed(i, s.too_small) for i, s in enumerate(extras)), ()),
        {**first.sizes, **{f"+{i}/{k}": v for i, s in enumerate(extras) for k, v in s.sizes.items()}},
        tuple(s.root for s in extras),
    )


def scan_photos(root: Path | str, size: int) -> PhotoSet:
    """List the usable photos under `root` (recursively) for `size`-pixel square outputs.

    Raises WorkbenchError when the folder does not exist, holds no image files, or none usable.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise WorkbenchError(f"Photo folder {root} does not exist or is not a folder; pass --photos DIR.")
    candidates = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not candidates:
        raise WorkbenchError(
            f"Photo folder {root} holds no image files ({', '.join(sorted(PHOTO_SUFFIXES))}); "
            "point --photos at a folder of real photographs."
        )
    usable, unreadable, too_small, sizes = [], [], [], {}
    min_side = size * MIN_UPSCALE_FRACTION
    for path in candidates:
        relative = path.relative_to(root).as_posix()
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
            unreadable.append(relative)
            continue
        if min(width, height) < min_side:
            too_small.append(relative)
            continue
        usable.append(relative)
        sizes[relative] = (int(width), int(height))
    if not usable:
        raise WorkbenchError(
            f"None of the {len(candidates)} image files in {root} can be used: {len(unreadable)} "
            f"unreadable, {len(too_small)} with a short side below {min_side:g} px (half of --size "
            f"{size}). Add larger photos or lower --size."
        )
    return PhotoSet(root, tuple(usable), tuple(unreadable), tuple(too_small), sizes)


def load_photo(path: Path, max_side: int | None = None) -> np.ndarray:
    """RGB uint8 pixels of a photo; PhotoUnreadable when they do not decode.

    `max_side`: a JPEG larger than this is decoded at a reduced DCT scale (1/2, 1/4 or 1/8, the
    largest that keeps both sides at least `max_side`): a camera-like downscale that costs a
    fraction of a full decode of a 12-MP photo."""
    try:
        if max_side is not None and path.suffix.lower() in (".jpg", ".jpeg"):
            with Image.open(path) as image:
                if max(image.size) > max_side:
                    image.draft("RGB", (max_side, max_side))
                    return np.asarray(image.convert("RGB")).copy()
        return load_image(path).rgb
    except (ImageInputError, OSError, ValueError) as exc:
        raise PhotoUnreadable(path, str(exc)) from exc


def square_crop(rgb: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A random square crop resized to size×size, and its parameters.

    The crop side lies between max(size, MAX_CROP_SHRINK·short side) and the short side; photos
    smaller than `size` are cropped to their short side and upscaled (bicubic).
    """
    height, width = rgb.shape[:2]
    short = min(height, width)
    low = min(short, max(size, round(short * MAX_CROP_SHRINK)))
    side = int(rng.integers(low, short + 1))
    x = int(rng.integers(0, width - side + 1))
    y = int(rng.integers(0, height - side + 1))
    crop = rgb[y : y + side, x : x + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    if side != size:
        crop = cv2.resize(crop, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(crop), {"crop_xywh": [x, y, side, side], "scale": round(size / side, 4)}
