"""Detective SAM configurations as data: the `full` (paper) and `compact` (CPU) profiles.

Both profiles run the same classes. A config fixes the frozen backbone, the input size, the three
feature scales the adapters see, the perturbation streams and the mask adapter's geometry.

Scale order (shared by the feature adapter, the mask adapter and the `*_sI` feature names):
  s0 — the image-embedding scale: it becomes the decoder's image embedding, so it has the
       decoder's width (256);
  s1 — the finest scale: its original-stream features also feed the mask adapter's refine head;
  s2 — a middle scale.

full (SAM2.1 Hiera-B+ at 512 px, as in the released checkpoints): s0 = backbone_fpn level 2 +
`no_mem_embed` (256 ch, 32²); s1 = level 0 through the decoder's `conv_s0` (32 ch, 128²);
s2 = level 1 through `conv_s1` (64 ch, 64²). The mask adapter builds a 128² prompt with an 8×8
coarse grid (16×16 depthwise conv).

compact (LiteMedSAM's TinyViT run at 128 px): s0 = the TinyViT neck output `embed` (256 ch, 32²);
s1 = `stage1` (128 ch, 64²); s2 = `stage2` (160 ch, 32²). 128 px rather than LiteMedSAM's native
256 px because of cost on a 2-core CPU, measured with the three streams: 256 px takes about 7 s an
image, 128 px about 1 s (TinyViT's first stage runs at full input resolution). `stage0` is left
out: it would double the per-image size of cached features (the reason the frozen encoder's
outputs can be cached at all). The mask adapter's base resolution is 64² with an 8×8 coarse grid,
as in full; its prompt is then resized bilinearly to the prompt encoder's mask input (4× the
embedding). Its stream-attention convs use a reduction of 8 instead of 4 to keep the trainable
part under 1.5M parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engines.backbones.imagenet import IMAGENET_MEAN, IMAGENET_STD
from engines.backbones.lite_medsam import LiteMedSAMConfig
from engines.backbones.precision import check_encoder_precision
from engines.backbones.tiny_vit import TinyViTConfig
from engines.errors import WorkbenchError
from engines.method_config import MethodConfig
from engines.registry import lookup

PERTURBATION_KINDS = ("blur", "noise", "jpeg")
"""What a perturbed stream can be: Gaussian blur, Gaussian noise or JPEG re-compression."""
FUSED_STREAMS = ("adapted", "original", "first perturbed", "second perturbed")
"""What the mask adapter weighs per pixel and per scale, in this order."""


@dataclass(frozen=True)
class PerturbationConfig:
    """The two perturbed streams, both made from the original image in [0, 1].

    `streams` names the kind of each, in the order the adapters see them; the released
    checkpoints use blur then noise. Blur is a Gaussian blur with zero padding; noise is the
    original plus Gaussian noise, clamped to [0, 1] (not blurred: the authors' code perturbs the
    original once per stream); JPEG is a re-compression at `jpeg_quality` (the paper's third
    perturbation, unused by both releases). The kinds are fixed when the adapters are trained.
    """

    streams: tuple[str, str] = ("blur", "noise")
    blur_sigma: float = 1.5
    blur_kernel: int = 5
    noise_std: float = 0.15
    jpeg_quality: int = 75
    noise_seed: int | None = None
    """Analysis only, read from the engine's configuration (`engine.config = apply_overrides(
    engine.config, ["perturbation.noise_seed=N"])`); training draws its noise from `train --seed`.
    None: each image's sample seed is derived from its pixels and these settings; an integer is the
    sample seed of every image, e.g. the authors' seed for one of their samples
    (`engines.detective_sam.preprocess`)."""

    def __post_init__(self) -> None:
        seed = self.noise_seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
            raise WorkbenchError(f"noise_seed must be a non-negative integer or None, got {self.noise_seed!r}.")
        unknown = [kind for kind in self.streams if kind not in PERTURBATION_KINDS]
        if unknown or len(self.streams) != 2 or len(set(self.streams)) != 2:
            raise WorkbenchError(
                f"Detective SAM needs two different perturbed streams from {PERTURBATION_KINDS}; "
                f"got {tuple(self.streams)}."
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise WorkbenchError(f"jpeg_quality must be 1–100, got {self.jpeg_quality}.")

    @classmethod
    def from_intensity(cls, intensity: float) -> PerturbationConfig:
        """The authors' mapping from `perturbation_intensity` i: σ = 2·i, std = 0.2·i.

        Both releases use i = 0.75: σ = 1.5, std = 0.15.
        """
        return cls(blur_sigma=2.0 * intensity, noise_std=0.2 * intensity)


@dataclass(frozen=True)
class DetectiveSAMConfig(MethodConfig):
    profile: str
    backbone: Literal["sam2", "lite_medsam"]
    input_size: int
    """Side of the square model input (images are resized to it, aspect not kept)."""
    scale_channels: tuple[int, int, int]
    """Channels of s0, s1, s2 (see the module docstring)."""
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]
    """Normalisation applied to the [0, 1] streams before the encoder."""
    perturbation: PerturbationConfig = field(default_factory=PerturbationConfig)
    hidden_dim: int = 64
    """Width of the feature adapter and the mask adapter (`prompt_dim` in the authors' files)."""
    dropout: float = 0.1
    prompt_base_resolution: int = 128
    """Side of the mask adapter's fusion grid and output prompt."""
    coarse_downscale: int = 16
    """Kernel and stride of the coarse path's depthwise conv (base resolution / this = grid)."""
    fusion_attention_reduction: int = 4
    """Stream-attention convs have (4 streams × channels) / this hidden channels."""
    attention_dim: int = 16
    attention_heads: int = 4
    attention_layers: int = 2
    sam2_config_file: str = "configs/sam2.1/sam2.1_hiera_b+.yaml"
    """Hydra config of the sam2 package (backbone "sam2" only)."""
    lite_medsam: LiteMedSAMConfig = field(default_factory=LiteMedSAMConfig)
    """Encoder/decoder sizes (backbone "lite_medsam" only)."""
    tiny_vit_scales: tuple[str, str, str] = ("embed", "stage1", "stage2")
    """`TinyViT.forward_features` entries used as s0, s1, s2 (backbone "lite_medsam" only)."""
    encoder_precision: str = "fp32"
    """How the frozen encoder computes, one of `ENCODER_PRECISIONS`: "bf16" autocasts it to
    bfloat16 (faster on CPUs with bf16 instructions, see `engines.backbones.precision`). An
    analysis setting: the engine takes it from its own configuration, not from the weights'."""

    def __post_init__(self) -> None:
        check_encoder_precision(self.encoder_precision)
        if self.prompt_base_resolution % self.coarse_downscale:
            raise WorkbenchError(
                f"prompt_base_resolution {self.prompt_base_resolution} is not a multiple of "
                f"coarse_downscale {self.coarse_downscale}."
            )
        groups = len(FUSED_STREAMS)
        for channels in self.scale_channels:
            hidden = max(groups * channels // self.fusion_attention_reduction, 8)
            if hidden % groups:
                raise WorkbenchError(
                    f"fusion_attention_reduction {self.fusion_attention_reduction} gives "
                    f"{hidden} attention channels for a {channels}-channel scale; they must be "
                    f"divisible by the {groups} fused streams."
                )

    @property
    def antialiased_resize(self) -> bool:
        """How the image is resized to `input_size`: as the weights were trained. The released
        (full) checkpoints were trained on Pillow's antialiased bilinear resize, as in the authors'
        code; the compact adapters on OpenCV's INTER_LINEAR (`cached_training.load_square_sample`),
        and Pillow's resize at analysis measured no better for them (their MODEL_CARD)."""
        return self.backbone == "sam2"

    @property
    def perturbed_streams(self) -> tuple[str, str]:
        return self.perturbation.streams

    @property
    def streams(self) -> tuple[str, str, str]:
        """Every encoded stream, the original first (the order of `encode_streams`' batch)."""
        return ("original", *self.perturbation.streams)

    @property
    def coarse_grid(self) -> int:
        return self.prompt_base_resolution // self.coarse_downscale

FULL = DetectiveSAMConfig(
    profile="full",
    backbone="sam2",
    input_size=512,
    scale_channels=(256, 32, 64),
    pixel_mean=IMAGENET_MEAN,
    pixel_std=IMAGENET_STD,
)

COMPACT = DetectiveSAMConfig(
    profile="compact",
    backbone="lite_medsam",
    input_size=128,
    scale_channels=(256, 128, 160),
    # LiteMedSAM was trained on images min-max scaled to [0, 1]: the streams are fed as they are.
    pixel_mean=(0.0, 0.0, 0.0),
    pixel_std=(1.0, 1.0, 1.0),
    prompt_base_resolution=64,
    coarse_downscale=8,
    fusion_attention_reduction=8,
    lite_medsam=LiteMedSAMConfig(encoder=TinyViTConfig(image_size=128)),
)

PROFILES: dict[str, DetectiveSAMConfig] = {"full": FULL, "compact": COMPACT}


def get_config(profile: str) -> DetectiveSAMConfig:
    return lookup("Detective SAM profile", profile, PROFILES)
