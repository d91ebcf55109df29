"""What the file itself says, before any pixel analysis (what Sherloq and Forensically show first):
its hash and size, metadata with software and editing tags highlighted (`engines.data.metadata`), the
JPEG quantisation tables with the workbench's one quality estimate, progressive or baseline
coding, chroma subsampling, and the embedded EXIF thumbnail compared with the image.

Every clue is a hint with an innocent explanation too (a camera app, a messenger's re-encoding);
none proves an edit.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, JpegImagePlugin

from engines.errors import ImageInputError
from engines.data.imageio import jpeg_quality_estimate, load_image
from engines.data.metadata import MetadataTag, metadata_tags
from engines.reports.render import resize_map

SUBSAMPLING = {0: "4:4:4 (no chroma subsampling)", 1: "4:2:2", 2: "4:2:0"}
THUMBNAIL_OFFSET, THUMBNAIL_LENGTH = 0x0201, 0x0202
"""IFD1 tags locating the embedded JPEG thumbnail inside the EXIF block."""
EXIF_HEADER = b"Exif\x00\x00"
THUMBNAIL_DIFFERENCE_LIMIT = 12.0
"""Mean absolute difference (grey levels, 0–255) above which a thumbnail does not show the image."""
ASPECT_TOLERANCE = 0.03


@dataclass
class ThumbnailCheck:
    thumbnail: np.ndarray
    """RGB uint8 of the embedded thumbnail."""
    mean_difference: float | None
    """Grey levels between the thumbnail and the image shrunk to its size (None: other shape)."""
    finding: str

    @property
    def matches(self) -> bool:
        return self.mean_difference is not None and self.mean_difference <= THUMBNAIL_DIFFERENCE_LIMIT


@dataclass
class FileForensics:
    source: str
    sha256: str
    size_bytes: int
    format: str | None
    width: int
    height: int
    mode: str
    jpeg: dict[str, Any] | None
    tags: list[MetadataTag] = field(default_factory=list)
    thumbnail: ThumbnailCheck | None = None
    clues: list[str] = field(default_factory=list)
    """Plain sentences: the highlights an analyst reads first."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the thumbnail's pixels left out)."""
        return {
            "source": self.source, "sha256": self.sha256, "size_bytes": self.size_bytes, "format": self.format,
            "width": self.width, "height": self.height, "mode": self.mode, "jpeg": self.jpeg,
            "tags": [tag.to_dict() for tag in self.tags],
            "thumbnail": None if self.thumbnail is None else {
                "width": int(self.thumbnail.thumbnail.shape[1]), "height": int(self.thumbnail.thumbnail.shape[0]),
                "mean_difference": self.thumbnail.mean_difference, "finding": self.thumbnail.finding},
            "clues": list(self.clues),
        }


def jpeg_structure(image: Image.Image) -> dict[str, Any] | None:
    """Quantisation tables (natural order, 8×8), the quality estimate, coding and subsampling."""
    estimate = jpeg_quality_estimate(image)
    if estimate is None:
        return None
    tables = {str(index): np.asarray(table).reshape(8, 8).tolist() for index, table in image.quantization.items()}
    return {
        "quality": estimate.quality,
        "quality_standard": estimate.standard,
        "quality_table_error": round(estimate.mean_error, 4),
        "progressive": bool(image.info.get("progressive") or image.info.get("progression")),
        "subsampling": SUBSAMPLING.get(JpegImagePlugin.get_sampling(image), "other"),
        "quantization_tables": tables,
    }


def embedded_thumbnail(image: Image.Image) -> np.ndarray | None:
    """The JPEG thumbnail that IFD1 of the EXIF block points at, as RGB; None when there is none."""
    raw = image.info.get("exif") or b""
    ifd1 = image.getexif().get_ifd(ExifTags.IFD.IFD1)
    offset, length = ifd1.get(THUMBNAIL_OFFSET), ifd1.get(THUMBNAIL_LENGTH)
    if not raw.startswith(EXIF_HEADER) or not offset or not length:
        return None
    start = len(EXIF_HEADER) + int(offset)
    try:
        with Image.open(io.BytesIO(raw[start:start + int(length)])) as thumbnail:
            return np.asarray(thumbnail.convert("RGB"))
    except (OSError, SyntaxError, ValueError):
        return None


def compare_thumbnail(thumbnail: np.ndarray, stored_rgb: np.ndarray) -> ThumbnailCheck:
    """The thumbnail against the image as stored (before EXIF rotation, as cameras write both)."""
    height, width = thumbnail.shape[:2]
    image_aspect = stored_rgb.shape[1] / stored_rgb.shape[0]
    if abs(width / height - image_aspect) > ASPECT_TOLERANCE * image_aspect:
        return ThumbnailCheck(thumbnail, None, (
            f"The embedded thumbnail ({width}×{height}) has another shape than the image "
            f"({stored_rgb.shape[1]}×{stored_rgb.shape[0]}): the image was cropped or replaced after the thumbnail "
            "was written, or the thumbnail has borders."))
    small = np.stack([resize_map(stored_rgb[:, :, c].astype(np.float32), height, width) for c in range(3)], axis=2)
    difference = float(np.abs(small - thumbnail.astype(np.float32)).mean())
    if difference > THUMBNAIL_DIFFERENCE_LIMIT:
        finding = (f"The embedded thumbnail differs from the image (mean difference {difference:.1f} grey levels): "
                   "the picture may have been changed after the thumbnail was written.")
    else:
        finding = (f"The embedded thumbnail matches the image overall (mean difference {difference:.1f} grey levels; "
                   "a small edit may not show at thumbnail size).")
    return ThumbnailCheck(thumbnail, difference, finding)


def _clues(report: FileForensics, tags: list[MetadataTag]) -> list[str]:
    clues = [f"{tag.group} {tag.name}: {tag.value}" for tag in tags if tag.highlighted]
    by_name = {tag.name: tag.value for tag in tags}
    if report.format == "JPEG" and not any(tag.group in ("Image", "EXIF") for tag in tags):
        clues.append("No EXIF metadata: stripped by an editor, a messenger or a website, or never written.")
    modified, original = by_name.get("DateTime"), by_name.get("DateTimeOriginal")
    if modified and original and modified != original:
        clues.append(f"The file's modification date ({modified}) differs from its capture date ({original}): it "
                     "was saved again after it was taken.")
    if report.jpeg is not None:
        if not report.jpeg["quality_standard"]:
            clues.append(f"Non-standard JPEG tables (nearest IJG quality {report.jpeg['quality']}): written by an "
                         "editor or a camera with its own tables, not by libjpeg.")
        if report.jpeg["progressive"]:
            clues.append("Progressive JPEG: typical of web export and editors, rare straight from a camera.")
    if report.thumbnail is not None and not report.thumbnail.matches:
        clues.append(report.thumbnail.finding)
    return clues


def inspect_file(path: str | Path) -> FileForensics:
    """The file-forensics record of an image file (its bytes as stored)."""
    path = Path(path)
    loaded = load_image(path)
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            tags = metadata_tags(image)
            thumbnail = embedded_thumbnail(image)
            stored_rgb = np.asarray(image.convert("RGB"))
            report = FileForensics(
                source=path.name, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                format=image.format, width=image.width, height=image.height, mode=image.mode,
                jpeg=jpeg_structure(image), tags=tags,
                thumbnail=None if thumbnail is None else compare_thumbnail(thumbnail, stored_rgb))
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageInputError(f"'{loaded.source}' could not be inspected: {error}") from error
    report.clues = _clues(report, tags)
    return report
