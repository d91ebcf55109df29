"""The engine contract: lazy, thread-safe loading, profiles, and one result type.

An engine subclass declares its `name`, its `profiles` (name -> config object), builds its model
in `_build` and analyses one RGB image in `_run`. Everything else — loading once per process on
the best device, timing, provenance, input conversion and the result checks — lives here once.
"""

from __future__ import annotations

import importlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engines.device import resolve_device
from engines.errors import ImageInputError, WeightsError, WorkbenchError
from engines.registry import did_you_mean
from engines.result import Analysis, Provenance

if TYPE_CHECKING:
    from engines.data.imageio import LoadedImage
    from engines.training.calibration import Calibration


MIN_SIDE = 8
"""Pixels: the shortest side any engine analyses (below it there are no blocks or regions to compare)."""


def check_analysable(image: LoadedImage) -> None:
    """The one input rule of every engine, applied before any model is loaded: an unreadable file
    is refused by `load_image`; here, an image whose shorter side is under MIN_SIDE pixels or whose
    size is above the megapixel limit (`FORGERY_MAX_MEGAPIXELS`) is refused, with the same
    message whichever engine is asked."""
    from engines.data.imageio import check_size
    from engines.settings import get_settings

    if min(image.width, image.height) < MIN_SIDE:
        raise ImageInputError(
            f"'{image.source}' is {image.width}×{image.height} pixels; images are analysed from "
            f"at least {MIN_SIDE}×{MIN_SIDE} pixels. Use the original, larger file."
        )
    check_size((image.width, image.height), image.source, get_settings().max_megapixels)


@dataclass
class RawOutput:
    """What `_run` returns: the maps at the original image size, before provenance is added."""

    heatmap: np.ndarray
    score: float
    mask: np.ndarray | None = None
    """None means `heatmap > engine.threshold` (the metrics' convention)."""
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    label: str | None = None
    text: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingStage:
    """A training stage besides the main one (e.g. DiffForensics' denoising pretraining), run by
    `python -m engines train --stage NAME` and by the Train tab's Stage choice."""

    name: str
    summary: str
    data: str
    """What the data folder holds for this stage, in words (e.g. "a folder of real photos")."""
    module: str
    """Module with `make_stage_trainer(config, data, init_weights, batch_size, seed,
    samples_per_epoch, progress)`."""
    before_main: bool = False
    """Run before the main stage (a pretraining), else after it (a stage on top of it)."""


MAIN_STAGE = "train"


class Engine(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    profiles: ClassVar[dict[str, Any]]
    default_profile: ClassVar[str] = "compact"
    threshold: ClassVar[float] = 0.5
    writes_explanations: ClassVar[bool] = False
    """True for engines whose `_run(model, rgb, explain)` can skip writing an explanation."""
    trainer_module: ClassVar[str | None] = None
    """Module with `make_trainer(config, dataset, init_weights, batch_size, seed, progress)`;
    None for training-free engines."""
    stages: ClassVar[tuple[TrainingStage, ...]] = ()
    """Training stages besides the main one (`MAIN_STAGE`), in the order they are run."""
    trains_on_the_fly: ClassVar[bool] = False
    """True when `make_trainer` also takes an `engines.forge.stream.ForgeSource` (forge samples
    made inside the run) in place of a dataset folder."""
    reading_guide: ClassVar[str] = ""
    """How to read this engine's output and what to ignore: shown beside the results."""

    def __init__(
        self,
        profile: str | None = None,
        device: str | None = None,
        weights: str | Path | None = None,
    ) -> None:
        profile = profile or self.default_profile
        if profile not in self.profiles:
            raise WorkbenchError(
                f"Engine {self.name!r} has no profile {profile!r}."
                f"{did_you_mean(profile, list(self.profiles))}"
            )
        self.profile = profile
        self.config = self.profiles[profile]
        self.device = resolve_device(device)
        self.weights_path = Path(weights) if weights else None
        self._model: Any = None
        self._explanations_loaded = False
        self._weights_sha256: dict[str, str] = {}
        self.calibration: Calibration | None = None
        self._lock = threading.RLock()

    @abstractmethod
    def _build(self) -> Any:
        """Build and load the model on `self.device`; record loaded files in `_weights_sha256`."""

    @abstractmethod
    def _run(self, model: Any, rgb: np.ndarray) -> RawOutput:
        """Analyse one H×W×3 uint8 image; all maps at H×W."""

    @property
    def loaded(self) -> bool:
        """The model is built (perhaps without what only explanations need: `is_ready`)."""
        return self._model is not None

    def is_ready(self, explanations: bool = True) -> bool:
        """Whether `load(explanations)` has nothing left to load."""
        return self.loaded and (self._explanations_loaded or not (explanations and self.writes_explanations))

    def load(self, explanations: bool = True) -> Any:
        """`explanations=False` (batch runs, evaluations) lets an engine that writes explanations
        leave out what only they need (IFDL-VLM's language model); a later call with True adds it."""
        with self._lock:
            if self._model is None:
                self._model = self._build()
                self.calibration = self._read_calibration()
            if explanations and self.writes_explanations and not self._explanations_loaded:
                self._load_explanations(self._model)
                self._explanations_loaded = True
            return self._model

    def _load_explanations(self, model: Any) -> None:
        """Add to `model` what writing explanations needs (engines that write them; called once)."""

    def unload(self) -> None:
        with self._lock:
            self._model = None
            self._explanations_loaded = False
            self._weights_sha256 = {}
            self.calibration = None

    def _read_calibration(self) -> Calibration | None:
        """The calibration stored with the trained weights in use (`engines.store.trained_weights`);
        for a training-free engine, its shipped calibration file (`shipped_calibration`), whose
        sha256 joins the provenance's weights: the measured reliability belongs to it."""
        from engines.store.model_store import file_sha256
        from engines.store.trained_weights import read_calibration
        from engines.training.calibration import Calibration

        if not self.is_trainable():
            path = self.shipped_calibration()
            if not path.is_file():
                return None
            self._weights_sha256[path.name] = file_sha256(path)
            try:
                return Calibration.from_json(path.read_text())
            except (ValueError, TypeError):
                raise WeightsError(f"{path} is not a calibration file; rewrite it with "
                                   f"`python -m engines calibrate --engine {self.name} --data DIR`.") from None
        weights = self.weights_path or self.shipped_weights(self.profile)
        return read_calibration(weights) if weights is not None and weights.is_file() else None

    def trained_weights(self) -> Path:
        """The trained weights to load (`weights=`, else the shipped file), or the one error that
        says there are none yet and how to train them."""
        weights = self.weights_path or self.shipped_weights(self.profile)
        if weights is None or not weights.is_file():
            where = f" at {weights}" if weights is not None else ""
            raise WeightsError(
                f"No trained {self.title} weights for the {self.profile} profile{where}. "
                f"Train them with {self.how_to_train(self.profile)}, or pass --weights."
            )
        return weights

    @classmethod
    def how_to_train(cls, profile: str) -> str:
        """The command(s) that train this engine's weights (engines trained in stages override it)."""
        return f"`python -m engines train --engine {cls.name} --profile {profile} --data DIR --out RUN`"

    def trained_config(self, weights: Path) -> Any:
        """The configuration `weights` were trained with (`--set` changes included), or the
        profile's for files that carry none: every trainable engine builds from this."""
        from engines.store.trained_weights import read_trained_config

        return read_trained_config(weights, self.name, type(self.config)) or self.config

    def calibrated_score(self, raw_score: float) -> float:
        """The image score shown: the raw one through the calibration when there is one."""
        return self.calibration.calibrate_score(raw_score) if self.calibration is not None else raw_score

    @property
    def pixel_threshold(self) -> float:
        """The mask threshold: the calibrated one when the weights carry it, else the class's."""
        return self.calibration.pixel_threshold if self.calibration is not None else self.threshold

    def analyze(self, image: Any, explain: bool = True) -> Analysis:
        """`explain=False` skips a written explanation (engines that write one): evaluations
        need only the maps, scores and labels, which do not depend on it."""
        from engines.data.imageio import LoadedImage, load_image
        from engines.data.memory_budget import fit_memory_budget, restore_output

        loaded = image if isinstance(image, LoadedImage) else load_image(image)
        check_analysable(loaded)
        analysed, working_copy = fit_memory_budget(self.name, self.profile, loaded)
        model = self.load(explanations=explain)
        start = time.perf_counter()
        with self._lock:
            rgb = analysed.rgb
            raw = self._run(model, rgb, explain=explain) if self.writes_explanations else self._run(model, rgb)
        if working_copy:
            raw = restore_output(raw, analysed, loaded)
        seconds = time.perf_counter() - start
        heatmap = np.clip(np.asarray(raw.heatmap, dtype=np.float32), 0.0, 1.0)
        expected = (loaded.height, loaded.width)
        if heatmap.shape != expected:
            raise RuntimeError(f"{self.name} returned a {heatmap.shape} map for a {expected} image")
        threshold = self.pixel_threshold
        mask = heatmap > threshold if raw.mask is None else raw.mask
        raw_score = float(np.clip(raw.score, 0.0, 1.0))
        calibrated: dict[str, Any] = {}
        if self.calibration is not None:
            calibrated = {"raw_score": raw_score, "calibration": self.calibration.describe()}
        return Analysis(
            heatmap=heatmap,
            mask=mask,
            score=self.calibrated_score(raw_score),
            maps=raw.maps,
            label=raw.label,
            text=raw.text,
            evidence=raw.evidence,
            provenance=Provenance(
                engine=self.name,
                profile=self.profile,
                device=str(self.device),
                weights=dict(self._weights_sha256),
                parameters={"threshold": threshold, **calibrated, **raw.parameters, **working_copy},
                seconds=seconds,
            ),
        )

    @classmethod
    def is_trainable(cls) -> bool:
        return cls.trainer_module is not None

    @classmethod
    def make_trainer(cls, profile: str, dataset: Any, init_weights: Path | None, batch_size: int,
                     seed: int, progress: Any = None, overrides: Sequence[str] = ()) -> Any:
        """An `engines.training.loop.Trainer` for this engine's trainable parts on `dataset`, from the
        profile's configuration with `overrides` (`KEY=VALUE`, see `engines.method_config`).

        `progress(done, total)` reports preparation (e.g. feature caching) before training starts.
        """
        if cls.trainer_module is None:
            raise WorkbenchError(f"{cls.title} is training-free: there is nothing to train.")
        from engines.method_config import apply_overrides

        config = apply_overrides(cls.profiles[profile], overrides)
        module = importlib.import_module(cls.trainer_module)
        return module.make_trainer(config, dataset, init_weights, batch_size, seed, progress)

    @classmethod
    def stage_names(cls) -> list[str]:
        """Every stage `train --stage` accepts for this engine, in the order they are run."""
        before = [stage.name for stage in cls.stages if stage.before_main]
        return [*before, MAIN_STAGE, *(stage.name for stage in cls.stages if not stage.before_main)]

    @classmethod
    def check_stage(cls, stage: str) -> None:
        """Refuse a stage this engine does not have, naming the ones it has."""
        if stage not in cls.stage_names():
            raise WorkbenchError(f"{cls.title} has no training stage {stage!r}.{did_you_mean(stage, cls.stage_names())}")

    @classmethod
    def make_stage_trainer(cls, stage: str, profile: str, data: Path, init_weights: Path | None, batch_size: int,
                           seed: int, samples_per_epoch: int | None = None, progress: Any = None,
                           overrides: Sequence[str] = ()) -> Any:
        """The `engines.training.loop.Trainer` of an extra stage (see `TrainingStage`), from the
        profile's configuration with `overrides`."""
        from engines.method_config import apply_overrides

        cls.check_stage(stage)
        chosen = next(s for s in cls.stages if s.name == stage)
        config = apply_overrides(cls.profiles[profile], overrides)
        module = importlib.import_module(chosen.module)
        return module.make_stage_trainer(config, data, init_weights, batch_size, seed, samples_per_epoch, progress)

    @classmethod
    def shipped_weights(cls, profile: str) -> Path | None:
        """Where the project ships its own trained weights for a profile:
        `assets/<engine>/<profile>.safetensors` for trainable engines, None for training-free ones."""
        if not cls.is_trainable():
            return None
        from engines.settings import get_settings

        return get_settings().assets_dir / cls.name / f"{profile}.safetensors"

    @classmethod
    def shipped_calibration(cls) -> Path:
        """Where a training-free engine's calibration lives (`python -m engines calibrate`):
        `assets/<engine>/calibration.json`. Trained engines carry theirs in their weights."""
        from engines.settings import get_settings

        return get_settings().assets_dir / cls.name / "calibration.json"

    def describe(self) -> dict[str, Any]:
        """Status for the Models panel and `python -m engines engines`."""
        return {
            "engine": self.name,
            "profile": self.profile,
            "device": str(self.device),
            "loaded": self.loaded,
            "weights": dict(self._weights_sha256),
            "custom_weights": str(self.weights_path) if self.weights_path else None,
        }
