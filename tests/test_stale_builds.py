"""A feature-cache build killed with SIGKILL leaves its `.building-<pid>` folder; the next build
removes it, and leaves alone the folder of a build whose process still runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from engines.training.feature_cache import FeatureCache


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_the_next_build_removes_what_a_killed_build_left(tmp_path: Path):
    killed = tmp_path / f".cache.building-{dead_pid()}"
    running = tmp_path / f".cache.building-{os.getppid()}"
    for folder in (killed, running):
        folder.mkdir()
        (folder / "x.npy").write_bytes(b"half written")
    cache = FeatureCache.build(tmp_path / "cache", 3, lambda indices: {"x": np.ones((len(indices), 2))})
    assert len(cache) == 3
    assert not killed.exists() and running.exists()
