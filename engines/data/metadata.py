"""An image file's EXIF, XMP and ICC metadata as a flat list, with the tags that name software or
record editing highlighted. Read with Pillow (EXIF, ICC) and the standard library's XML parser
(XMP); nothing here parses EXIF by hand."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from typing import Any

from PIL import ExifTags, Image, ImageCms

EDITING_TAGS = frozenset({
    "Software", "ProcessingSoftware", "HostComputer", "ImageHistory", "CreatorTool", "softwareAgent",
    "History", "DerivedFrom", "DocumentAncestors", "action", "changed", "Ancestor",
})
"""EXIF and XMP tag names that say which software wrote the file or record an edit."""
EDITOR_NAMES = re.compile(
    r"photoshop|lightroom|camera raw|gimp|affinity|pixelmator|snapseed|paint\.net|canva|picsart|"
    r"facetune|meitu|luminar|capture one|darktable|rawtherapee|acdsee|corel|stable diffusion|"
    r"midjourney|dall.?e|firefly|generative", re.IGNORECASE)
"""Values naming editing or generating software are highlighted whatever their tag."""
MAX_VALUE_CHARS = 200
EXIF_GROUPS = (("EXIF", ExifTags.IFD.Exif), ("GPS", ExifTags.IFD.GPSInfo), ("Interop", ExifTags.IFD.Interop),
               ("Thumbnail IFD", ExifTags.IFD.IFD1))


@dataclass(frozen=True)
class MetadataTag:
    group: str
    """"Image", "EXIF", "GPS", "Interop", "Thumbnail IFD", "XMP" or "ICC"."""
    name: str
    value: str
    highlighted: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        printable = value.rstrip(b"\x00")
        if printable and all(32 <= b < 127 for b in printable):
            value = printable.decode("ascii")
        else:
            return f"({len(value)} bytes of binary data)"
    text = str(value).strip()
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def _tag(group: str, name: str, value: Any) -> MetadataTag:
    text = _text(value)
    return MetadataTag(group, name, text, name in EDITING_TAGS or bool(EDITOR_NAMES.search(text)))


def exif_tags(image: Image.Image) -> list[MetadataTag]:
    """Every EXIF tag of the main IFD and of the EXIF, GPS, interoperability and thumbnail IFDs."""
    exif = image.getexif()
    tags = [_tag("Image", ExifTags.TAGS.get(key, f"0x{key:04x}"), value) for key, value in exif.items()
            if key not in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop)]
    for group, ifd in EXIF_GROUPS:
        if ifd == ExifTags.IFD.Interop and ifd not in exif.get_ifd(ExifTags.IFD.Exif):
            continue  # its pointer lives in the EXIF IFD; Pillow cannot read it otherwise
        names = ExifTags.GPSTAGS if ifd == ExifTags.IFD.GPSInfo else ExifTags.TAGS
        tags += [_tag(group, names.get(key, f"0x{key:04x}"), value) for key, value in exif.get_ifd(ifd).items()]
    return tags


def xmp_packet(image: Image.Image) -> str | bytes | None:
    """The raw XMP packet Pillow found (JPEG APP1, PNG iTXt, WebP, TIFF tag 700), if any."""
    for key in ("xmp", "XML:com.adobe.xmp"):
        if image.info.get(key):
            return image.info[key]
    return image.getexif().get(700) if image.format == "TIFF" else None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def xmp_tags(image: Image.Image) -> list[MetadataTag]:
    """XMP properties as (name, value) pairs: element texts and attributes, namespaces dropped."""
    packet = xmp_packet(image)
    if not packet:
        return []
    try:
        root = ElementTree.fromstring(packet)
    except ElementTree.ParseError as error:
        return [MetadataTag("XMP", "(unreadable)", f"the XMP packet is not well-formed XML: {error}", True)]
    tags = []
    for element in root.iter():
        tags += [_tag("XMP", _local(key), value) for key, value in element.attrib.items()
                 if not key.startswith("{http://www.w3.org/XML/1998/namespace}")]
        if element.text and element.text.strip():
            tags.append(_tag("XMP", _local(element.tag), element.text))
    return tags


def icc_tags(image: Image.Image) -> list[MetadataTag]:
    """The embedded ICC profile's description, maker, model and copyright."""
    data = image.info.get("icc_profile")
    if not data:
        return []
    tags = [MetadataTag("ICC", "size", f"{len(data)} bytes", False)]
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
    except (ImageCms.PyCMSError, OSError) as error:
        return tags + [MetadataTag("ICC", "(unreadable)", str(error), True)]
    readers = (("description", ImageCms.getProfileDescription), ("manufacturer", ImageCms.getProfileManufacturer),
               ("model", ImageCms.getProfileModel), ("copyright", ImageCms.getProfileCopyright))
    for name, read in readers:
        try:
            value = read(profile)
        except ImageCms.PyCMSError:
            continue
        if value and value.strip():
            tags.append(_tag("ICC", name, value))
    return tags


def metadata_tags(image: Image.Image) -> list[MetadataTag]:
    return exif_tags(image) + xmp_tags(image) + icc_tags(image)
