"""Post-processing perturbations of RGB uint8 images: JPEG, blur, noise, resize, gamma and
social-network presets, composable into seeded chains.

Used by the robustness lab, the forge's post-processing, `evaluate --perturb` and the GUI. Every
operation takes and returns an RGB uint8 H×W×3 array; only `resize` (without `restore`) and the
presets change the size. Conventions:

- `jpeg(quality)`: a real encode/decode round trip with OpenCV (`cv2.imencode`), the library used
  by albumentations and hence by IMDL-BenCo's robustness test; OpenCV's defaults otherwise:
  4:2:0 chroma subsampling, baseline, standard tables. So q=100 is near-lossless, not lossless.
- `blur(sigma, kernel)`: OpenCV Gaussian blur (reflect-101 borders). With only `sigma` the kernel
  is 2·ceil(3σ)+1; with only `kernel` (or sigma=0) σ follows OpenCV's rule
  0.3·((k−1)/2 − 1) + 0.8, as albumentations' `GaussianBlur(blur_limit=(k, k))` does.
- `noise(sigma)`: additive Gaussian noise, σ in 0–255 units, independent per pixel and channel,
  drawn from the chain's seeded generator, rounded and clipped to 0–255.
- `resize(scale, interpolation, restore)`: OpenCV resize to round(scale·size) (at least 1 px).
  `restore=True` resizes back to the exact original size with the same interpolation, so that
  ground-truth masks stay aligned while the resampling loss remains.
- `gamma(g)`: out = 255·(in/255)^g (torchvision's convention: g > 1 darkens, g < 1 brightens).

Social-network presets approximate re-encoding by an upload; they are NOT the platforms'
pipelines (which change over time, adapt quality per image and may sharpen or strip metadata).
The numbers are fixed middle values of publicly reported observations, downscaling uses OpenCV's
area interpolation, images are never upscaled, then JPEG as above:

| preset             | size cap            | JPEG quality | reported observations        |
|--------------------|---------------------|--------------|------------------------------|
| facebook           | long side ≤ 2048 px | 80           | long side 2048, q ≈ 71–85    |
| whatsapp           | long side ≤ 1600 px | 70           | long side 1600, q ≈ 60–75    |
| twitter (alias x)  | long side ≤ 4096 px | 85           | long side 4096, q ≈ 85       |
| instagram          | width ≤ 1080 px     | 75           | width 1080, q ≈ 75–80; the   |
|                    |                     |              | sharpening some report is    |
|                    |                     |              | not modelled                 |

CLI syntax (`parse_chain`): `kind=value` sets the kind's main parameter (`jpeg=70`, `blur=1.5`,
`noise=8`, `resize=0.5`, `gamma=1.2`, `preset=whatsapp`); `kind=key:value,key:value` sets any
(`blur=sigma:1.5,kernel:5`, `blur=kernel:7`, `resize=scale:0.5,interpolation:area,restore:true`);
steps joined by `+` run left to right (`resize=0.75+jpeg=70`).

`STANDARD_GRIDS` holds the robustness grids of IMDL-BenCo (also used by SAFIRE), keyed by sweep
axis (see `sweep`): JPEG quality 50–100 step 10; blur kernel 3–23 step 4 with σ by OpenCV's rule;
noise as albumentations `GaussNoise(var_limit=(v, v))` *variances* v = 3–23 step 4, i.e.
σ = √v ≈ 1.7–4.8 (axis `noise_var`); resize scales 0.5 and 0.75 (common in the literature, not in
IMDL-BenCo). IMDL-BenCo's extra "0" entry (no perturbation) is left to the caller's clean run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from engines.errors import ImageInputError, UnknownNameError, WorkbenchError
from engines.registry import did_you_mean
from engines.settings import get_settings

INTERPOLATIONS: dict[str, int] = {
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


@dataclass(frozen=True)
class SocialPreset:
    """An approximation of one platform's re-encoding (see the module docstring's table)."""

    quality: int
    max_long_side: int | None = None
    max_width: int | None = None


_TWITTER = SocialPreset(quality=85, max_long_side=4096)
PRESETS: dict[str, SocialPreset] = {
    "facebook": SocialPreset(quality=80, max_long_side=2048),
    "whatsapp": SocialPreset(quality=70, max_long_side=1600),
    "twitter": _TWITTER,
    "x": _TWITTER,
    "instagram": SocialPreset(quality=75, max_width=1080),
}


# ---- parameter checks: validate and normalise one kind's parameters -------------------------


def _number(kind: str, name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise WorkbenchError(f"{kind} {name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise WorkbenchError(f"{kind} {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise WorkbenchError(f"{kind} {name} must be a finite number, got {value!r}")
    return number


def _integer(kind: str, name: str, value: Any) -> int:
    number = _number(kind, name, value)
    if not number.is_integer():
        raise WorkbenchError(f"{kind} {name} must be a whole number, got {value!r}")
    return int(number)


def _flag(kind: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1"}:
        return True
    if text in {"false", "no", "0"}:
        return False
    raise WorkbenchError(f"{kind} {name} must be true or false, got {value!r}")


def _check_jpeg(params: dict[str, Any]) -> dict[str, Any]:
    quality = _integer("jpeg", "quality", params["quality"])
    if not 1 <= quality <= 100:
        raise WorkbenchError(f"jpeg quality must be between 1 and 100, got {quality}")
    return {"quality": quality}


def _check_blur(params: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    if params.get("sigma") is not None:
        checked["sigma"] = _number("blur", "sigma", params["sigma"])
        if checked["sigma"] < 0:
            raise WorkbenchError(f"blur sigma must be >= 0, got {checked['sigma']}")
    if params.get("kernel") is not None:
        checked["kernel"] = _integer("blur", "kernel", params["kernel"])
        if checked["kernel"] < 1 or checked["kernel"] % 2 == 0:
            raise WorkbenchError(f"blur kernel must be an odd size >= 1, got {checked['kernel']}")
    if not checked.get("sigma") and "kernel" not in checked:
        raise WorkbenchError("blur needs sigma > 0 or an odd kernel size, e.g. 'blur=1.5' or 'blur=kernel:5'")
    return checked


def _check_noise(params: dict[str, Any]) -> dict[str, Any]:
    sigma = _number("noise", "sigma", params["sigma"])
    if sigma < 0:
        raise WorkbenchError(f"noise sigma must be >= 0 (0-255 units), got {sigma}")
    return {"sigma": sigma}


def _check_resize(params: dict[str, Any]) -> dict[str, Any]:
    scale = _number("resize", "scale", params["scale"])
    if scale <= 0:
        raise WorkbenchError(f"resize scale must be > 0, got {scale}")
    interpolation = str(params.get("interpolation", "bilinear")).strip().lower()
    if interpolation not in INTERPOLATIONS:
        raise UnknownNameError(
            f"Unknown resize interpolation {interpolation!r}." + did_you_mean(interpolation, list(INTERPOLATIONS))
        )
    restore = _flag("resize", "restore", params.get("restore", False))
    return {"scale": scale, "interpolation": interpolation, "restore": restore}


def _check_gamma(params: dict[str, Any]) -> dict[str, Any]:
    g = _number("gamma", "g", params["g"])
    if g <= 0:
        raise WorkbenchError(f"gamma g must be > 0, got {g}")
    return {"g": g}


def _check_preset(params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["name"]).strip().lower()
    if name not in PRESETS:
        raise UnknownNameError(f"Unknown social-network preset {name!r}." + did_you_mean(name, list(PRESETS)))
    return {"name": name}


# ---- the operations on arrays ------------------------------------------------------------------


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        described = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ImageInputError(f"perturbations need an RGB uint8 H×W×3 array, got {described}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ImageInputError(f"perturbations need a non-empty image, got shape {rgb.shape}")


def _resize_to(rgb: np.ndarray, height: int, width: int, interpolation: str) -> np.ndarray:
    megapixels = height * width / 1e6
    limit = get_settings().max_megapixels
    if megapixels > limit:
        raise ImageInputError(
            f"resizing to {width}×{height} ({megapixels:.1f} MP) exceeds the {limit:g} MP limit "
            "(FORGERY_MAX_MEGAPIXELS); use a smaller scale"
        )
    return cv2.resize(rgb, (width, height), interpolation=INTERPOLATIONS[interpolation])


def _apply_jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise WorkbenchError(f"OpenCV could not JPEG-encode an image of shape {rgb.shape}")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _apply_blur(rgb: np.ndarray, sigma: float | None = None, kernel: int | None = None) -> np.ndarray:
    sigma = sigma or 0.0
    if kernel is None:
        kernel = 2 * math.ceil(3 * sigma) + 1
    return cv2.GaussianBlur(rgb, (kernel, kernel), sigmaX=sigma, sigmaY=sigma)


def _apply_noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = rgb.astype(np.float32) + rng.normal(0.0, sigma, size=rgb.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _apply_resize(rgb: np.ndarray, scale: float, interpolation: str, restore: bool) -> np.ndarray:
    height, width = rgb.shape[:2]
    resized = _resize_to(rgb, max(1, round(height * scale)), max(1, round(width * scale)), interpolation)
    return _resize_to(resized, height, width, interpolation) if restore else resized


def _apply_gamma(rgb: np.ndarray, g: float) -> np.ndarray:
    table = np.rint(255.0 * (np.arange(256) / 255.0) ** g).astype(np.uint8)
    return cv2.LUT(rgb, table)


def _apply_preset(rgb: np.ndarray, name: str) -> np.ndarray:
    preset = PRESETS[name]
    height, width = rgb.shape[:2]
    scale = 1.0
    if preset.max_long_side is not None:
        scale = min(scale, preset.max_long_side / max(height, width))
    if preset.max_width is not None:
        scale = min(scale, preset.max_width / width)
    if scale < 1.0:
        rgb = _resize_to(rgb, max(1, round(height * scale)), max(1, round(width * scale)), "area")
    return _apply_jpeg(rgb, preset.quality)


@dataclass(frozen=True)
class _Kind:
    names: tuple[str, ...]
    """Accepted parameters; the first is the one that `kind=value` sets."""
    required: tuple[str, ...]
    check: Callable[[dict[str, Any]], dict[str, Any]]
    """Validates and normalises the parameters; raises WorkbenchError with a user-facing message."""
    run: Callable[..., np.ndarray]
    example: str
    uses_rng: bool = False


_KINDS: dict[str, _Kind] = {
    "jpeg": _Kind(("quality",), ("quality",), _check_jpeg, _apply_jpeg, "jpeg=70"),
    "blur": _Kind(("sigma", "kernel"), (), _check_blur, _apply_blur, "blur=1.5"),
    "noise": _Kind(("sigma",), ("sigma",), _check_noise, _apply_noise, "noise=8", uses_rng=True),
    "resize": _Kind(("scale", "interpolation", "restore"), ("scale",), _check_resize, _apply_resize, "resize=0.5"),
    "gamma": _Kind(("g",), ("g",), _check_gamma, _apply_gamma, "gamma=1.2"),
    "preset": _Kind(("name",), ("name",), _check_preset, _apply_preset, "preset=whatsapp"),
}


def _kind(name: str) -> _Kind:
    if name not in _KINDS:
        raise UnknownNameError(f"Unknown perturbation {name!r}." + did_you_mean(name, list(_KINDS)))
    return _KINDS[name]


def _format(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Perturbation:
    """One operation with parameters validated and normalised on construction.

    `params` is a plain dict so that perturbations pickle and deep-copy; treat it as read-only.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind = str(self.kind).strip().lower()
        spec = _kind(kind)
        params = dict(self.params)
        for name in params:
            if name not in spec.names:
                raise UnknownNameError(f"{kind} has no parameter {name!r}." + did_you_mean(name, list(spec.names)))
        for name in spec.required:
            if params.get(name) is None:
                raise WorkbenchError(f"{kind} needs its {name} parameter, e.g. '{spec.example}'")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "params", spec.check(params))

    def __hash__(self) -> int:
        return hash((self.kind, tuple(self.params.items())))

    @property
    def changes_size(self) -> bool:
        """Whether the output may differ in size from the input (masks must then be resized)."""
        if self.kind == "resize":
            return not self.params["restore"] and self.params["scale"] != 1.0
        return self.kind == "preset"

    def apply(self, rgb: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Perturb an RGB uint8 H×W×3 array; `rng` feeds the noise (default: seed 0)."""
        _check_rgb(rgb)
        rgb = np.ascontiguousarray(rgb)
        spec = _KINDS[self.kind]
        if spec.uses_rng:
            return spec.run(rgb, rng=rng if rng is not None else np.random.default_rng(0), **self.params)
        return spec.run(rgb, **self.params)

    def describe(self) -> str:
        """Human-readable form, e.g. `jpeg(quality=70)`."""
        return f"{self.kind}({', '.join(f'{k}={_format(v)}' for k, v in self.params.items())})"

    def to_spec(self) -> str:
        """CLI form that `parse_chain` reads back to an equal perturbation, e.g. `jpeg=quality:70`."""
        return f"{self.kind}=" + ",".join(f"{k}:{_format(v)}" for k, v in self.params.items())


@dataclass(frozen=True)
class Chain:
    """Perturbations applied left to right; one seeded generator feeds every random step."""

    steps: tuple[Perturbation, ...] = ()

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        for step in steps:
            if not isinstance(step, Perturbation):
                raise WorkbenchError(f"a Chain holds Perturbation steps, got {type(step).__name__}")
        object.__setattr__(self, "steps", steps)

    @property
    def changes_size(self) -> bool:
        return any(step.changes_size for step in self.steps)

    def apply(self, rgb: np.ndarray, seed: int = 0) -> np.ndarray:
        """Perturb an RGB uint8 H×W×3 array; the same seed always gives the same output."""
        _check_rgb(rgb)
        rng = np.random.default_rng(seed)
        out = rgb.copy()
        for step in self.steps:
            out = step.apply(out, rng)
        return out

    def describe(self) -> str:
        return " + ".join(step.describe() for step in self.steps) or "none"

    def to_spec(self) -> str:
        return "+".join(step.to_spec() for step in self.steps)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready form, read back by `Chain.from_list`."""
        return [{"kind": step.kind, "params": dict(step.params)} for step in self.steps]

    @classmethod
    def from_list(cls, items: Sequence[Mapping[str, Any]]) -> Chain:
        steps = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping) or "kind" not in item or not isinstance(item.get("params", {}), Mapping):
                raise WorkbenchError(f"perturbation step {index} must be {{'kind': ..., 'params': {{...}}}}, got {item!r}")
            steps.append(Perturbation(item["kind"], item.get("params", {})))
        return cls(tuple(steps))


def _parse_step(token: str) -> Perturbation:
    name, has_value, value = token.partition("=")
    kind = name.strip().lower()
    spec = _kind(kind)
    value = value.strip()
    if not has_value or not value:
        raise WorkbenchError(f"perturbation step {token!r} needs a value, e.g. '{spec.example}'")
    if ":" not in value:
        return Perturbation(kind, {spec.names[0]: value})
    params: dict[str, str] = {}
    for item in value.split(","):
        key, has_colon, raw = item.partition(":")
        key = key.strip().lower()
        if not has_colon or not key or not raw.strip():
            raise WorkbenchError(
                f"cannot read {item!r} in {token!r}: use key:value pairs separated by commas, e.g. 'blur=sigma:1.5,kernel:5'"
            )
        if key in params:
            raise WorkbenchError(f"parameter {key!r} is given twice in {token!r}")
        params[key] = raw.strip()
    return Perturbation(kind, params)


def parse_chain(spec: str | Sequence[str]) -> Chain:
    """Read the CLI syntax, e.g. `"resize=0.75+jpeg=70"` or `["resize=0.75", "jpeg=70"]`."""
    parts = [spec] if isinstance(spec, str) else list(spec)
    tokens = [token.strip() for part in parts for token in part.split("+")]
    if not any(tokens):
        raise WorkbenchError("empty perturbation spec; expected e.g. 'jpeg=70' or 'resize=0.75+jpeg=70'")
    if not all(tokens):
        raise WorkbenchError(f"perturbation spec {spec!r} has an empty step (a stray '+')")
    return Chain(tuple(_parse_step(token) for token in tokens))


@dataclass(frozen=True)
class _Axis:
    kind: str
    param: str
    to_param: Callable[[float], Any] = lambda value: value


SWEEP_AXES: dict[str, _Axis] = {
    "jpeg": _Axis("jpeg", "quality"),
    "blur": _Axis("blur", "sigma"),
    "blur_kernel": _Axis("blur", "kernel"),
    "noise": _Axis("noise", "sigma"),
    "noise_var": _Axis("noise", "sigma", lambda variance: round(math.sqrt(variance), 4)),
    "resize": _Axis("resize", "scale"),
    "gamma": _Axis("gamma", "g"),
}
"""Sweep axis -> the parameter it varies; `noise_var` takes variances (IMDL-BenCo's noise unit)."""

STANDARD_GRIDS: dict[str, list[float]] = {
    "jpeg": [50, 60, 70, 80, 90, 100],
    "blur_kernel": [3, 7, 11, 15, 19, 23],
    "noise_var": [3, 7, 11, 15, 19, 23],
    "resize": [0.5, 0.75],
}


def sweep(kind: str, values: Sequence[float]) -> list[Chain]:
    """One single-step chain per intensity along a sweep axis (a key of `SWEEP_AXES`)."""
    if kind not in SWEEP_AXES:
        raise UnknownNameError(f"Unknown sweep axis {kind!r}." + did_you_mean(kind, list(SWEEP_AXES)))
    axis = SWEEP_AXES[kind]
    return [Chain((Perturbation(axis.kind, {axis.param: axis.to_param(value)}),)) for value in values]


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    return Perturbation("jpeg", {"quality": quality}).apply(rgb)


def blur(rgb: np.ndarray, sigma: float | None = None, kernel: int | None = None) -> np.ndarray:
    return Perturbation("blur", {"sigma": sigma, "kernel": kernel}).apply(rgb)


def noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return Perturbation("noise", {"sigma": sigma}).apply(rgb, rng)


def resize(rgb: np.ndarray, scale: float, interpolation: str = "bilinear", restore: bool = False) -> np.ndarray:
    return Perturbation("resize", {"scale": scale, "interpolation": interpolation, "restore": restore}).apply(rgb)


def gamma(rgb: np.ndarray, g: float) -> np.ndarray:
    return Perturbation("gamma", {"g": g}).apply(rgb)


def social_preset(rgb: np.ndarray, name: str) -> np.ndarray:
    return Perturbation("preset", {"name": name}).apply(rgb)
