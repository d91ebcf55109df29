"""What the engine feeds Detective SAM: the resized image, its perturbed streams, their noise seed.

The image is resized as the weights were trained (`DetectiveSAMConfig.antialiased_resize`; the
full profile exactly as the authors: Pillow bilinear to 512×512) and perturbed on the CPU, so a
seed gives the same noise on any device.

The noise seed. The authors' inference (Gertlek/DetectiveSAM, `detectivesam_inference/dataset.py`,
`build_sample_seed` and `build_streams`) seeds each sample from its file *names*: the SHA-256 of
"source folder|source stem|target folder|target stem|mask stem or no-mask|perturbation_type|
intensity with 8 decimals|False" (folder = the name of the folder above `source/`, `target/`),
its first 8 bytes read as a big-endian unsigned integer, modulo 2³¹. The noise stream is then
drawn by a CPU `torch.Generator` seeded with that sample seed plus the stream's index among the
perturbed streams (1 in both releases: blur, then noise).

Here the image's decoded pixels (and their shape) take the place of the names, so the same
pixels give the same result whatever the file is called; the rest is theirs: the settings in the
hashed key, 8 bytes mod 2³¹, the stream index added, a CPU generator. To reproduce the authors'
prediction for one of their samples, set `PerturbationConfig.noise_seed` to their sample seed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from engines.detective_sam.config import PerturbationConfig
from engines.detective_sam.model import DetectiveSAM
from engines.data.tensors import to_square_input

SEED_MODULUS = 2**31


def content_sample_seed(rgb: np.ndarray, perturbation: PerturbationConfig) -> int:
    """The sample seed of an H×W×3 uint8 image under these perturbation settings."""
    pixels = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
    key = "|".join([
        pixels,
        "x".join(str(side) for side in rgb.shape),
        "+".join(perturbation.streams),
        f"{perturbation.blur_sigma:.8f}",
        str(perturbation.blur_kernel),
        f"{perturbation.noise_std:.8f}",
        str(perturbation.jpeg_quality),
    ])
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], byteorder="big", signed=False) % SEED_MODULUS


def noise_stream_seed(sample_seed: int, perturbation: PerturbationConfig) -> int | None:
    """The generator seed of the noise stream (None when no stream is noise)."""
    if "noise" not in perturbation.streams:
        return None
    return sample_seed + perturbation.streams.index("noise")


def prepare_streams(
    model: DetectiveSAM, rgb: np.ndarray, noise_seed: int | None = None
) -> tuple[dict[str, torch.Tensor], int | None]:
    """The model's streams of an H×W×3 uint8 image (1×3×S×S on the CPU, keyed by
    `config.streams`) and the sample seed of their noise (None when no stream is noise).
    `noise_seed`: an explicit sample seed; None derives one from the image."""
    config = model.config
    images = to_square_input(rgb, config.input_size, antialias=config.antialiased_resize)
    sample_seed = content_sample_seed(rgb, config.perturbation) if noise_seed is None else noise_seed
    stream_seed = noise_stream_seed(sample_seed, config.perturbation)
    generator = None if stream_seed is None else torch.Generator().manual_seed(stream_seed)
    return model.perturb(images, generator), None if stream_seed is None else sample_seed
