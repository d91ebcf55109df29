"""Process-wide settings, read once from the environment.

Every path the project needs from outside the repository goes through here, so that a user can
point the workbench at their own data, weights and caches without touching code.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    shared_dir: Path
    """`../shared` beside the project: papers, benchmarks, photos and weights (never committed)."""
    cache_dir: Path
    """Where the model store keeps fetched weights and where feature caches go."""
    runs_dir: Path
    """Where training writes checkpoints and logs."""
    assets_dir: Path
    """Small files the app ships: example images, trained compact weights, model cards."""
    max_megapixels: float
    """Images above this size are refused with a clear message (decompression-bomb guard)."""
    offline: bool
    """When true nothing is fetched from a network source; missing weights raise a clear error."""
    extra_photo_dirs: tuple[Path, ...] = ()
    """More folders of real photographs for synthesising training forgeries (`FORGERY_PHOTOS`,
    separated by ':'); training uses them beside `photos_dir` (see docs/data.md)."""

    @property
    def benchmarks_dir(self) -> Path:
        return self.shared_dir / "data" / "benchmarks"

    @property
    def photos_dir(self) -> Path:
        return self.shared_dir / "data" / "photos"

    @property
    def shared_weights_dir(self) -> Path:
        return self.shared_dir / "weights"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        shared_dir=_env_path("FORGERY_SHARED", PROJECT_ROOT.parent / "shared"),
        cache_dir=_env_path("FORGERY_CACHE", Path.home() / ".cache" / "forgery-workbench"),
        runs_dir=_env_path("FORGERY_RUNS", PROJECT_ROOT / "runs"),
        assets_dir=_env_path("FORGERY_ASSETS", PROJECT_ROOT / "assets"),
        max_megapixels=float(os.environ.get("FORGERY_MAX_MEGAPIXELS", "64")),
        offline=_env_bool("FORGERY_OFFLINE", True),
        extra_photo_dirs=tuple(Path(p).expanduser() for p in os.environ.get("FORGERY_PHOTOS", "").split(":") if p),
    )
