"""Turn any uploaded image (file, bytes, PIL image or numpy array) into RGB uint8 plus facts.

Every engine and every dataset reader goes through `load_image` / `load_mask`, so that the odd
files analysts meet (16-bit scans, CMYK print files, transparent PNGs, rotated phone photos,
animations, truncated downloads, decompression bombs) are handled in one place, with errors a user
can act on.

Choices worth knowing:
- Transparent pixels are composited over **white**: a constant background adds no structure that
  forensic maps could mistake for evidence, and white is how documents and most viewers show
  transparency. `had_alpha` records that this happened.
- High-bit-depth images are scaled by the full range of their mode (16-bit 65535 -> 255), never
  clipped, so a 16-bit scan does not turn white.
- EXIF orientation is applied (pixels as the user sees them); `original_size` is as stored.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from engines.errors import ImageInputError
from engines.settings import get_settings

log = logging.getLogger(__name__)

ImageSource = str | os.PathLike | bytes | io.BytesIO | Image.Image | np.ndarray

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_HIGH_DEPTH_MODES = _SIXTEEN_BIT_MODES | {"I", "F"}
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_METADATA_BOMB_MESSAGES = ("Decompressed data too large", "Too much memory used in text chunks")
"""How Pillow words its refusal of a PNG iCCP/zTXt/iTXt chunk that inflates beyond its limits."""
_SPECIAL_FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))

# The IJG (libjpeg) standard luminance quantisation table, natural (row-major) order, which is
# the order Pillow's `Image.quantization` uses.
_IJG_LUMINANCE = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.int64,
)  # fmt: skip
_MAX_QUANT_TABLE_ERROR = 0.1
"""Mean relative error to the best IJG table above which a table counts as non-standard."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    rgb: np.ndarray
    """H×W×3 uint8, C-contiguous, EXIF orientation applied."""
    source: str
    """File name, or "<bytes>" / "<array>" / "<PIL image>" for in-memory input."""
    format: str | None
    """Pillow's format name ("JPEG", "PNG", "TIFF", "WEBP", ...); None for arrays."""
    original_mode: str
    """Pillow mode before conversion ("I;16", "CMYK", "P", ...); for arrays "<dtype>x<channels>"."""
    original_size: tuple[int, int]
    """(width, height) as stored, before EXIF rotation."""
    exif_rotated: bool
    had_alpha: bool
    n_frames: int
    """More than 1 for animations; the first frame is the one loaded."""
    jpeg_quality: int | None
    """IJG quality 1–100 matching the luminance table (`jpeg_quality_estimate`); None if not a
    JPEG or a non-IJG table."""
    sha256: str | None = None
    """SHA-256 of the file's bytes as read (None for in-memory pixels: arrays and PIL images)."""
    file_bytes: int | None = None

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def facts(self) -> dict:
        """JSON-ready description of the input (no pixels)."""
        return {
            "source": self.source,
            "format": self.format,
            "original_mode": self.original_mode,
            "original_size": list(self.original_size),
            "width": self.width,
            "height": self.height,
            "megapixels": self.megapixels,
            "exif_rotated": self.exif_rotated,
            "had_alpha": self.had_alpha,
            "n_frames": self.n_frames,
            "jpeg_quality": self.jpeg_quality,
            "sha256": self.sha256,
            "file_bytes": self.file_bytes,
        }


@dataclass(frozen=True)
class _Opened:
    image: Image.Image
    """First frame, fully decoded, orientation not yet applied."""
    source: str
    format: str | None
    original_mode: str
    n_frames: int
    sha256: str | None = None
    file_bytes: int | None = None


def load_image(src: ImageSource, *, max_megapixels: float | None = None) -> LoadedImage:
    """Load `src` as RGB uint8; `max_megapixels` defaults to `get_settings().max_megapixels`."""
    with _open(src, max_megapixels) as opened:
        original_size = opened.image.size
        estimate = jpeg_quality_estimate(opened.image)
        upright, exif_rotated = _apply_exif_orientation(opened.image)
        rgb, had_alpha = _to_rgb(upright)
    return LoadedImage(
        rgb=np.ascontiguousarray(rgb),
        source=opened.source,
        format=opened.format,
        original_mode=opened.original_mode,
        original_size=original_size,
        exif_rotated=exif_rotated,
        had_alpha=had_alpha,
        n_frames=opened.n_frames,
        jpeg_quality=estimate.quality if estimate is not None and estimate.standard else None,
        sha256=opened.sha256,
        file_bytes=opened.file_bytes,
    )


def load_mask(
    src: ImageSource, size: tuple[int, int] | None = None, *, name: str = "mask"
) -> np.ndarray:
    """Load a mask as bool H×W (8-bit gray > 127); `size` is the expected (height, width).

    Alpha is dropped rather than composited: a mask's meaning is in its gray values.
    """
    with _open(src, None) as opened:
        upright, _ = _apply_exif_orientation(opened.image)
        mask = _to_gray(upright) > 127
    if size is not None and mask.shape != tuple(size):
        raise ImageInputError(
            f"The {name} '{opened.source}' is {mask.shape[1]}×{mask.shape[0]} pixels but its image "
            f"is {size[1]}×{size[0]} (width×height); a mask must have exactly its image's size."
        )
    return mask


@dataclass(frozen=True)
class JpegQualityEstimate:
    """The one JPEG quality estimate of the workbench: the IJG (libjpeg) quality whose scaled
    luminance table is closest to the file's own."""

    quality: int
    mean_error: float
    """Mean relative difference between the file's luminance table and that quality's table."""

    @property
    def standard(self) -> bool:
        """True when an IJG quality reproduces the table closely; False for other encoders'
        tables (e.g. Photoshop's), where `quality` is only the nearest IJG one."""
        return self.mean_error <= _MAX_QUANT_TABLE_ERROR


def jpeg_quality_estimate(image: Image.Image) -> JpegQualityEstimate | None:
    """The quality estimate of a JPEG opened with Pillow; None for other formats."""
    tables = getattr(image, "quantization", None)
    if image.format != "JPEG" or not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    mean_errors = (np.abs(_ijg_tables() - np.asarray(tables[0])) / _ijg_tables()).mean(axis=1)
    best = int(mean_errors.argmin())
    return JpegQualityEstimate(quality=best + 1, mean_error=float(mean_errors[best]))


@functools.cache
def _ijg_tables() -> np.ndarray:
    """Row q-1 is libjpeg's baseline luminance table at quality q (jcparam.c scaling)."""
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000 // qualities, 200 - 2 * qualities)
    return np.clip((_IJG_LUMINANCE[None, :] * scales[:, None] + 50) // 100, 1, 255)


@contextlib.contextmanager
def _open(src: ImageSource, max_megapixels: float | None) -> Iterator[_Opened]:
    """Open, check the header size, and fully decode the first frame of `src`."""
    limit = get_settings().max_megapixels if max_megapixels is None else max_megapixels
    if isinstance(src, np.ndarray):
        image, mode = _array_to_pil(src, limit)
        yield _Opened(image, "<array>", None, mode, 1)
        return
    if isinstance(src, Image.Image):
        with _pillow_errors("<PIL image>"):
            yield _decoded(src, "<PIL image>", limit)
        return
    stream, source = _stream_of(src)
    digest, size = _digest(stream)
    with _pillow_errors(source):
        with Image.open(stream) as image:
            yield replace(_decoded(image, source, limit), sha256=digest, file_bytes=size)


def _digest(stream: Path | io.BytesIO) -> tuple[str, int]:
    """SHA-256 and size of the bytes a file or buffer holds (the buffer is left at its start)."""
    if isinstance(stream, Path):
        with stream.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest(), stream.stat().st_size
    data = stream.getvalue()
    return hashlib.sha256(data).hexdigest(), len(data)


def _decoded(image: Image.Image, source: str, limit: float) -> _Opened:
    check_size(image.size, source, limit)
    n_frames = int(getattr(image, "n_frames", 1))
    if n_frames > 1:
        image.seek(0)
    image.load()
    return _Opened(image, source, image.format, image.mode, n_frames)


def _stream_of(src: str | os.PathLike | bytes | io.BytesIO) -> tuple[Path | io.BytesIO, str]:
    if isinstance(src, (bytes, bytearray)):
        if not src:
            raise ImageInputError("The uploaded image data is empty (0 bytes); upload it again.")
        return io.BytesIO(src), "<bytes>"
    if isinstance(src, io.BytesIO):
        if not src.getbuffer().nbytes:
            raise ImageInputError("The uploaded image data is empty (0 bytes); upload it again.")
        src.seek(0)
        return src, "<bytes>"
    if not isinstance(src, (str, os.PathLike)):
        raise ImageInputError(
            f"Cannot read an image from a {type(src).__name__}; give a file path, bytes, "
            "a PIL image or a numpy array."
        )
    path = Path(src)
    try:
        mode, size = (info := path.stat()).st_mode, info.st_size
    except FileNotFoundError:
        raise ImageInputError(f"Image file not found: '{path}'. Check the path or upload it again.") from None
    except OSError as exc:
        raise ImageInputError(f"'{path}' cannot be read ({exc.strerror}).") from None
    if stat.S_ISDIR(mode):
        raise ImageInputError(f"'{path}' is a folder, not an image file; choose a file inside it.")
    for is_kind, kind in _SPECIAL_FILE_KINDS:
        if is_kind(mode):
            target = os.path.realpath(path)
            via = f" (a link to {target})" if target != os.path.abspath(path) else ""
            raise ImageInputError(f"'{path}'{via} is {kind}, not an image file; it was not read.")
    if size == 0:
        raise ImageInputError(f"'{path.name}' is empty (0 bytes); the upload or copy may have failed.")
    return path, path.name


def check_size(size: tuple[int, int], source: str, limit: float) -> None:
    """Refuse a zero-size image or one above `limit` megapixels (before it is decoded)."""
    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise ImageInputError(f"'{source}' has zero size ({width}×{height} pixels).")
    megapixels = width * height / 1e6
    if megapixels > limit:
        raise ImageInputError(
            f"'{source}' is {width}×{height} pixels ({megapixels:.1f} MP), above the {limit:g} MP "
            "limit. Downscale it, or raise the limit with FORGERY_MAX_MEGAPIXELS."
        )


@contextlib.contextmanager
def _pillow_errors(source: str) -> Iterator[None]:
    """Turn Pillow's failures (and its decompression-bomb warning) into ImageInputError, and log
    its other warnings (possibly corrupt EXIF, truncated data …) with the file they are about."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except ImageInputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(
                f"'{source}' was refused as a possible decompression bomb: its header claims far "
                f"more pixels than a photo has ({exc})"
            ) from exc
        except UnidentifiedImageError as exc:
            raise ImageInputError(
                f"'{source}' is not an image this workbench can read (it reads JPEG, PNG, TIFF, "
                "WebP, GIF, BMP and the other formats Pillow knows)."
            ) from exc
        except _DECODE_ERRORS as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(_METADATA_BOMB_MESSAGES):
                raise ImageInputError(
                    f"'{source}' was refused as a zlib bomb: a compressed metadata chunk (an ICC "
                    f"profile or text, PNG iCCP/zTXt/iTXt) inflates far beyond any real one ({exc})."
                ) from exc
            raise ImageInputError(
                f"'{source}' could not be decoded: the file is truncated or corrupt ({exc}). "
                "Re-download or re-export the original."
            ) from exc
        finally:
            for warning in caught:
                log.warning("%s: %s", source, warning.message)


def _array_to_pil(array: np.ndarray, limit: float) -> tuple[Image.Image, str]:
    """Accept H×W, H×W×1, H×W×3, H×W×4 arrays of uint8, uint16, bool or float in [0, 1]."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageInputError(
            f"An image array must be H×W, H×W×1, H×W×3 or H×W×4; got shape {array.shape}."
        )
    check_size((array.shape[1], array.shape[0]), "<array>", limit)
    mode = f"{array.dtype.name}x{array.shape[2]}"
    if array.dtype == np.uint8:
        pixels = array
    elif array.dtype == np.uint16:
        pixels = _scale_16_bit(array)
    elif array.dtype == np.bool_:
        pixels = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise ImageInputError("A float image array must hold finite values in [0, 1].")
        pixels = np.round(array * 255).astype(np.uint8)
    else:
        raise ImageInputError(
            f"Image arrays must be uint8, uint16, bool or float in [0, 1]; got {array.dtype}."
        )
    pil_mode = {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    pixels = np.ascontiguousarray(pixels[:, :, 0] if pil_mode == "L" else pixels)
    return Image.fromarray(pixels, mode=pil_mode), mode


def _apply_exif_orientation(image: Image.Image) -> tuple[Image.Image, bool]:
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        return image, False  # an unreadable EXIF block is no reason to refuse the pixels
    if orientation not in range(2, 9):
        return image, False
    return ImageOps.exif_transpose(image), True


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, bool]:
    """RGB uint8 pixels of `image` and whether it had alpha (composited over white)."""
    if image.mode in _HIGH_DEPTH_MODES:
        return np.repeat(_high_depth_to_uint8(image)[:, :, None], 3, axis=2), False
    if image.mode == "CMYK":
        return np.asarray(_cmyk_to_rgb(image)), False
    had_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    if not had_alpha:
        return np.asarray(image.convert("RGB")), False
    return _composite_over_white(np.asarray(image.convert("RGBA"))), True


def _to_gray(image: Image.Image) -> np.ndarray:
    if image.mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_uint8(image)
    if image.mode == "CMYK":
        image = image.convert("RGB")
    return np.asarray(image.convert("L"))


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:].astype(np.uint32)
    color = rgba[:, :, :3].astype(np.uint32)
    return ((color * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _high_depth_to_uint8(image: Image.Image) -> np.ndarray:
    """Gray 8-bit from modes I;16*, I and F, scaled by the mode's range.

    Mode "I" holding values in 0..65535 (how 16-bit files decode) and "F" in [0, 1] use those
    ranges; other "I"/"F" data (rare 32-bit scientific TIFFs) has no natural white, so its own
    min..max is stretched to 0..255.
    """
    values = np.asarray(image)
    if image.mode in _SIXTEEN_BIT_MODES:
        return _scale_16_bit(values)
    values = np.nan_to_num(values.astype(np.float64))
    low, high = float(values.min()), float(values.max())
    if image.mode == "I" and low >= 0 and high <= 65535:
        return _scale_16_bit(values.astype(np.uint16))
    if image.mode == "F" and low >= 0 and high <= 1:
        return np.round(values * 255).astype(np.uint8)
    span = high - low or 1.0
    return np.round((values - low) * (255 / span)).astype(np.uint8)


def _scale_16_bit(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Through the embedded ICC profile when there is a usable one, else Pillow's naive formula."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(
                image, source_profile, _srgb_profile(), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError):
            pass
    return image.convert("RGB")
