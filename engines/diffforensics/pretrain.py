"""Stage 1: self-supervised denoising pretraining of the decoder on unlabelled photos.

Each step takes random square crops of the photos (resized to the model input, random horizontal
flip), draws t ~ U{1..T} and ε (simplex, or Gaussian for the ablation), and trains the decoder,
timestep embedding and noise head to predict ε from x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε with the encoder
frozen (paper Algorithm 1). The encoder sees x_t, which changes at every step, so its features
cannot be cached; what is kept in memory is the decoded photos (downscaled to a short side of at
most `PHOTO_SHORT_SIDE`, since crops are resized to the input size anyway).

A tenth of the photos (at least one) is held out: validation is the denoising MSE on a fixed set of
their crops, timesteps spread evenly over 1..T and seeded noise (predicting ε̂ = 0 scores 1.0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from engines.diffforensics.build import build_diffforensics, save_diffforensics_weights
from engines.diffforensics.config import DiffForensicsConfig
from engines.diffforensics.diffusion import NoiseSchedule
from engines.diffforensics.losses import denoising_loss
from engines.diffforensics.model import TRAINING_MEMORY_FORMAT, DiffForensics
from engines.errors import WorkbenchError
from engines.forge.photos import load_photo, scan_photos, square_crop

CROPS_PER_EPOCH = 512
"""Pretraining crops per epoch unless `--samples-per-epoch` says otherwise."""
PHOTO_SHORT_SIDE = 768
VALIDATION_CROPS = 32


class PhotoCrops:
    """Decoded photos in memory and random square crops of them as model inputs in [−1, 1]."""

    def __init__(self, root: Path, size: int, progress: Callable[[int, int], None] | None = None) -> None:
        photo_set = scan_photos(root, size)
        self.size = size
        self.photos: list[np.ndarray] = []
        for index, relative in enumerate(photo_set.photos):
            rgb = load_photo(photo_set.path(relative))
            scale = PHOTO_SHORT_SIDE / min(rgb.shape[:2])
            if scale < 1:
                rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            self.photos.append(rgb)
            if progress is not None:
                progress(index + 1, len(photo_set.photos))

    def __len__(self) -> int:
        return len(self.photos)

    def crops(self, photo_indices: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """One random crop per listed photo: B × 3 × S × S in [−1, 1]."""
        batch = []
        for index in photo_indices:
            crop, _ = square_crop(self.photos[int(index)], self.size, rng)
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            batch.append(torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1))
        return torch.stack(batch).float().div_(127.5).sub_(1.0)


class PretrainTrainer:
    """Implements `engines.training.loop.Trainer` for stage 1."""

    def __init__(self, model: DiffForensics, photos: PhotoCrops, crops_per_epoch: int = CROPS_PER_EPOCH,
                 batch_size: int = 8, seed: int = 0) -> None:
        self.model = model
        self.photos = photos
        self.schedule = NoiseSchedule(model.config.diffusion)
        self.batch_size = batch_size
        self.steps_per_epoch = max(1, crops_per_epoch // batch_size)
        order = np.random.default_rng(seed).permutation(len(photos))
        n_val = min(max(1, round(len(photos) * 0.1)), len(photos) - 1)
        self.train_photos = order[n_val:]
        validation_photos = order[:n_val] if n_val else order  # one photo: it serves both
        rng = np.random.default_rng(seed + 1)
        generator = torch.Generator().manual_seed(seed + 1)
        self.validation_x0 = photos.crops(rng.choice(validation_photos, VALIDATION_CROPS), rng)
        self.validation_t = torch.linspace(1, self.schedule.timesteps, VALIDATION_CROPS).round().long()
        self.validation_noise = self.schedule.noise(tuple(self.validation_x0.shape), generator)

    def trainable_module(self) -> DiffForensics:
        return self.model

    def batches(self, epoch: int, generator: torch.Generator, skip: int = 0) -> list[int]:
        """A seed per step: it fixes the step's crops, timesteps and noise."""
        return torch.randint(0, 2**31 - 1, (self.steps_per_epoch,), generator=generator).tolist()[skip:]

    def loss(self, seed: int) -> tuple[torch.Tensor, dict[str, float]]:
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(seed)
        x0 = self.photos.crops(rng.choice(self.train_photos, self.batch_size), rng)
        t = self.schedule.sample_timesteps(self.batch_size, generator)
        noise = self.schedule.noise(tuple(x0.shape), generator)
        x_t = self.schedule.q_sample(x0, t, noise).contiguous(memory_format=TRAINING_MEMORY_FORMAT)
        loss = denoising_loss(self.model.predict_noise(x_t, t), noise)
        return loss, {"mse": loss.item()}

    def validate(self) -> dict[str, float]:
        self.model.eval()
        with torch.inference_mode():
            x_t = self.schedule.q_sample(self.validation_x0, self.validation_t, self.validation_noise)
            total = 0.0
            for start in range(0, VALIDATION_CROPS, self.batch_size):
                part = slice(start, start + self.batch_size)
                predicted = self.model.predict_noise(x_t[part], self.validation_t[part])
                total += denoising_loss(predicted, self.validation_noise[part]).item() * predicted.shape[0]
        self.model.train()
        return {"val_mse": total / VALIDATION_CROPS}

    def export(self, path: Path) -> None:
        """Decoder, timestep embedding and noise head (fp16); the noise kind in the metadata."""
        save_diffforensics_weights(self.model, path, self.model.config.diffusion.noise)


def make_stage_trainer(config: DiffForensicsConfig, photos_dir: Path, init_weights: Path | None, batch_size: int,
                       seed: int, crops_per_epoch: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> PretrainTrainer:
    """`train --engine diffforensics --stage pretrain --data PHOTOS`: the forward process's noise
    is the configuration's (`--set diffusion.noise=gaussian`: the vanilla-DDPM ablation)."""
    if init_weights is not None:
        raise WorkbenchError("DiffForensics pretraining starts from the pretrained encoder and a new "
                             "decoder: it takes no initial weights.")
    crops_per_epoch = crops_per_epoch or CROPS_PER_EPOCH
    torch.manual_seed(seed)
    model = build_diffforensics(config).set_stage(1).train().to(memory_format=TRAINING_MEMORY_FORMAT)
    photos = PhotoCrops(Path(photos_dir), config.input_size, progress)
    return PretrainTrainer(model, photos, crops_per_epoch, batch_size, seed)
