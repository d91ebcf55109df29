"""Choosing where models run."""

from __future__ import annotations

import torch


def best_device() -> torch.device:
    """CUDA when present, else CPU (the machines this project is built on have no GPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return best_device()
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        from engines.errors import WorkbenchError

        raise WorkbenchError("CUDA was requested but no GPU is available here; use --device cpu")
    return resolved
