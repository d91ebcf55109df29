"""Shared fixtures: offline settings for every test and small synthetic images."""

from __future__ import annotations

import os

import numpy as np
import pytest

for key, value in {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
}.items():
    os.environ.setdefault(key, value)


@pytest.fixture
def spliced_image() -> tuple[np.ndarray, np.ndarray]:
    """A textured photo-like image with a noisier pasted rectangle, and its true mask."""
    rng = np.random.default_rng(0)
    height, width = 240, 320
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([100 + 60 * np.sin(xx / 17.0), 120 + 50 * np.cos(yy / 23.0), 90 + 0.2 * xx], -1)
    rgb = base + rng.normal(0, 2, base.shape)
    mask = np.zeros((height, width), bool)
    mask[80:160, 120:220] = True
    rgb[mask] += rng.normal(0, 14, (int(mask.sum()), 3))
    return np.clip(rgb, 0, 255).astype(np.uint8), mask


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for the real-browser tests (driver: tests/browser.py)."""
    from browser import chromium, chromium_installed

    if not chromium_installed():
        pytest.skip("Debian chromium is not installed (scripts/setup-browser.sh installs it)")
    with chromium() as launched:
        yield launched
