"""Folders a killed process left half-built.

Work that builds a folder under a temporary name ending in `-<pid>` and renames it when complete
(feature caches) removes that folder itself when it fails; only SIGKILL or a power cut leaves it
behind. The next build removes those whose process is gone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_builds(parent: Path, prefix: str) -> list[Path]:
    """Remove `<parent>/<prefix><pid>` folders whose process no longer runs; returns them."""
    removed = []
    for folder in parent.glob(f"{prefix}*"):
        pid = folder.name[len(prefix):]
        if folder.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
