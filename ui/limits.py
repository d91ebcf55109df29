"""What the served app allows itself: bounded uploads, and a cache of served files that is cleaned
while it runs."""

from __future__ import annotations

from engines.settings import get_settings

CACHE_CLEANING = (900, 3600)
"""Gradio's `delete_cache`: every 15 minutes, delete served files (uploads, output images, report
zips) older than an hour."""

UPLOAD_HEADROOM = 1.1


def max_upload_bytes() -> int:
    """An uncompressed 16-bit RGB image at the megapixel limit (6 bytes a pixel), plus 10%: no
    image the workbench accepts is larger, so nothing larger is worth receiving."""
    return int(get_settings().max_megapixels * 1e6 * 6 * UPLOAD_HEADROOM)
