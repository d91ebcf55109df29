"""The environment that keeps Gradio, huggingface_hub and transformers off the network."""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def apply_offline_environment() -> None:
    """Set (where the user has not) before Gradio or transformers are imported."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
