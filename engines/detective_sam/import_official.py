"""Import a released Detective SAM checkpoint (Gertlek/DetectiveSAM on Hugging Face).

A release is `<stem>.pth` (the whole module's state dict, raw or under "model") with a sidecar
`<stem>_params.yaml` (flat, or with `model_config`/`data_config`/`sam_config`/`training_config`
sections) giving `img_size`, `prompt_dim`, `downscale`, `dropout_rate`, `perturbation_type`,
`perturbation_intensity` and `sam_config_file`. Importing checks that both fit this
implementation, strict-loads the weights, and writes a safetensors copy whose metadata holds the
resulting `DetectiveSAMConfig` (read back by `engines.store.trained_weights.read_trained_config`).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from engines.detective_sam.build import (
    build_detective_sam,
    load_detective_sam_weights,
    read_state_dict,
)
from engines.detective_sam.config import FULL, DetectiveSAMConfig, PerturbationConfig
from engines.errors import WeightsError
from engines.settings import get_settings

SUPPORTED_PERTURBATIONS = ("gaussian_blur", "gaussian_noise")
_SECTIONS = ("model_config", "data_config", "sam_config", "training_config")


@dataclass(frozen=True)
class ImportedCheckpoint:
    path: Path
    """The safetensors copy."""
    config: DetectiveSAMConfig
    source: Path
    source_sha256: str


def params_path_for(checkpoint: Path) -> Path:
    return checkpoint.with_name(f"{checkpoint.stem}_params.yaml")


def read_params(path: Path) -> dict[str, Any]:
    """The sidecar's settings as one flat mapping (sections merged; top-level keys win)."""
    if not path.is_file():
        raise WeightsError(
            f"{path} is missing: a Detective SAM checkpoint needs its _params.yaml sidecar "
            "(download it from the same Hugging Face repository, Gertlek/DetectiveSAM)."
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise WeightsError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(loaded, dict):
        raise WeightsError(f"{path} must hold a mapping of settings, not {type(loaded).__name__}.")
    flat: dict[str, Any] = {}
    for section in _SECTIONS:
        if isinstance(loaded.get(section), dict):
            flat.update(loaded[section])
    flat.update({k: v for k, v in loaded.items() if k not in _SECTIONS})
    return flat


def _sam2_config_file(name: str, source: Path) -> str:
    folder = "configs/sam2.1" if name.startswith("sam2.1") else "configs/sam2"
    candidate = f"{folder}/{Path(name).name}"
    if not importlib.resources.files("sam2").joinpath(candidate).is_file():
        raise WeightsError(
            f"{source}: sam_config_file {name!r} is not a config of the installed sam2 package."
        )
    return candidate


def config_from_params(params: dict[str, Any], source: Path) -> DetectiveSAMConfig:
    """The full-profile config a release's parameters describe; refuses what we cannot run."""
    perturbations = tuple(
        part.strip()
        for part in str(params.get("perturbation_type", "none")).replace("+", "/").split("/")
    )
    if perturbations != SUPPORTED_PERTURBATIONS:
        raise WeightsError(
            f"{source}: perturbation_type {params.get('perturbation_type')!r} is not supported; "
            f"this implementation runs exactly {'/'.join(SUPPORTED_PERTURBATIONS)} (both releases)."
        )
    input_size = int(params.get("img_size", FULL.input_size))
    if input_size != FULL.input_size:
        raise WeightsError(
            f"{source}: img_size {input_size} is not supported; the released model runs at "
            f"{FULL.input_size} px."
        )
    try:
        return replace(
            FULL,
            perturbation=PerturbationConfig.from_intensity(float(params["perturbation_intensity"])),
            hidden_dim=int(params.get("prompt_dim", FULL.hidden_dim)),
            coarse_downscale=int(params.get("downscale", FULL.coarse_downscale)),
            dropout=float(params.get("dropout_rate", FULL.dropout)),
            sam2_config_file=_sam2_config_file(
                str(params.get("sam_config_file", "sam2.1_hiera_b+.yaml")), source
            ),
        )
    except KeyError as err:
        raise WeightsError(f"{source} lacks the setting {err.args[0]!r}.") from err
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{source} has a setting of the wrong type or value: {err}") from err


def import_official_checkpoint(
    checkpoint: Path | str,
    output: Path | str | None = None,
    params: Path | str | None = None,
) -> ImportedCheckpoint:
    """Validate and import `checkpoint`; write it to `output` (default: the cache's weights
    folder, `<stem>.safetensors`). `params` defaults to the `<stem>_params.yaml` beside it."""
    from engines.store.model_store import file_sha256
    from engines.store.trained_weights import write_trained_weights

    checkpoint = Path(checkpoint)
    params_file = Path(params) if params is not None else params_path_for(checkpoint)
    config = config_from_params(read_params(params_file), params_file)
    model = build_detective_sam(config)
    load_detective_sam_weights(model, read_state_dict(checkpoint), str(checkpoint))
    output = (
        Path(output)
        if output is not None
        else get_settings().cache_dir / "weights" / f"{checkpoint.stem}.safetensors"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    sha256 = file_sha256(checkpoint)
    write_trained_weights(output, "detective_sam", model.state_dict(), config,
                          extra={"source_sha256": sha256}, half=False)
    return ImportedCheckpoint(output, config, checkpoint, sha256)
