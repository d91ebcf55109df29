"""DiffForensics configurations as data: the `full` (paper) and `compact` (CPU) profiles.

Both profiles run the same classes: an encoder that gives features at strides 4, 8, 16 and 32, a
UNet-style decoder with a timestep embedding (three decoder blocks at strides 16, 8 and 4, then a
full-resolution stage that also sees the input pixels), the Edge Cue Enhancement Module on the
three decoder blocks, and the noise (stage 1), localization and detection (stage 2) heads.

full — the paper: SegFormer-B2 fine-tuned on ADE20K (`transformers` `SegformerModel`, model store
name "segformer_b2_ade"), 512 px. The paper does not give the SegFormer size or the decoder widths
(methods.md lists them as open); B2 and the widths below are our choice.

compact — EfficientNet-Lite0 (ImageNet, model store name "efficientnet_lite0"), 256 px
(`encoder="efficientnet_lite2"` swaps in the wider, deeper Lite2).
Why this encoder: no SegFormer (nor any ADE20K) weights can be had offline here. Of the pretrained
encoders that can, EfficientNet-Lite0 is a natural multi-scale CNN (strides 2–32, 3.0M
parameters without its classifier) and cheap on a 2-core CPU: its forward pass at 256 px takes
0.039 s an image, LiteMedSAM's TinyViT 1.63 s (measured on this 2-core CPU, 2 threads; the
TinyViT weights are also medical-domain). Its ImageNet features are general-purpose ("macroscopic") features, the role
ADE20K SegFormer plays in the paper. It trains on 256-px crops (stage 2 fine-tunes the encoder,
so nothing can be cached) and analyses at the image's own pixel grid (`native`, tiled above 1024
px): resizing would resample away the traces it looks for. The detection loss is class-balanced
per batch. Weights written before `native` existed keep the 256-px square resize they were
trained with (every file carries its configuration).

The diffusion settings are the paper's: T = 1000, linear β from 1e-4 to 0.02, simplex noise with
start frequency 2⁻⁶, 6 octaves, persistence 0.8; fixed timestep t_f = 5 in stage 2 and at
inference, used as the timestep embedding only (see `model.DiffForensics.forward`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engines.backbones.efficientnet_lite import VARIANTS as LITE_VARIANTS
from engines.backbones.efficientnet_lite import pyramid_channels
from engines.diffforensics.simplex import NOISE_KINDS, NoiseKind
from engines.errors import WorkbenchError
from engines.method_config import MethodConfig
from engines.registry import did_you_mean, lookup

ENCODERS = ("segformer", *LITE_VARIANTS)


@dataclass(frozen=True)
class SimplexConfig:
    start_frequency: float = 2.0**-6
    """Cycles per pixel of the first octave (ν)."""
    octaves: int = 6
    persistence: float = 0.8
    """Amplitude ratio of each octave to the previous one (γ)."""


@dataclass(frozen=True)
class DiffusionConfig:
    timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    noise: NoiseKind = "simplex"
    """Noise of stage 1; "gaussian" is the vanilla-DDPM ablation."""
    simplex: SimplexConfig = field(default_factory=SimplexConfig)
    fixed_timestep: int = 5
    """t_f: the timestep embedding of stage 2 and inference."""


@dataclass(frozen=True)
class LossConfig:
    """L = alpha·(L_seg + L_edg) + beta·L_clf, with the paper's weights."""

    alpha: float = 0.8
    beta: float = 0.1
    seg_bce_share: float = 0.1
    """λ₀ˢ: L_seg = λ₀ˢ·wBCE + (1 − λ₀ˢ)·Dice."""
    tampered_pixel_weight: float = 2.0
    real_pixel_weight: float = 0.5
    tampered_image_weight: float = 0.7
    real_image_weight: float = 0.3
    edge_scale_weights: tuple[float, float, float] = (1.0, 0.5, 0.25)
    """2^−(k−1) for k = 1 (finest decoder block, stride 4) to 3 (stride 16)."""
    edge_radius: int = 2
    """Half-width in input pixels of the edge label band (see `losses.edge_label`)."""
    balance_classes: bool = False
    """Weight L_clf by the inverse class shares of each batch instead of 0.7 / 0.3."""


@dataclass(frozen=True)
class SegformerSpec:
    """The `transformers.SegformerConfig` fields that set the encoder's size (B2 by default)."""

    depths: tuple[int, int, int, int] = (3, 4, 6, 3)
    hidden_sizes: tuple[int, int, int, int] = (64, 128, 320, 512)
    num_attention_heads: tuple[int, int, int, int] = (1, 2, 5, 8)
    sr_ratios: tuple[int, int, int, int] = (8, 4, 2, 1)
    mlp_ratios: tuple[int, int, int, int] = (4, 4, 4, 4)
    drop_path_rate: float = 0.1


@dataclass(frozen=True)
class DiffForensicsConfig(MethodConfig):
    profile: str
    encoder: Literal["segformer", "efficientnet_lite0", "efficientnet_lite2"]
    input_size: int
    """Side of the square model input when `native` is off (images are resized to it, aspect not
    kept); with `native`, the side of the square training crops."""
    encoder_channels: tuple[int, int, int, int]
    """Channels of the encoder features at strides 4, 8, 16, 32. An EfficientNet-Lite encoder sets
    them (and `encoder_weights`, unless None, to its own store name), so that `--set
    encoder=efficientnet_lite2` changes all three."""
    decoder_channels: tuple[int, int, int]
    """Widths of the decoder blocks at strides 16, 8, 4 (edge-cue scales s3, s2, s1)."""
    full_resolution_channels: int
    time_embedding_dim: int
    detection_hidden: int
    encoder_weights: str | None
    """Model store name of the pretrained encoder; None = random (tests only)."""
    native: bool = False
    """Analyse at the image's own pixel grid (padded to the stride; tiled above `tile_size`)
    instead of resizing it to `input_size`: resizing resamples away noise and JPEG-grid traces."""
    tile_size: int = 1024
    """Native analysis: larger images are cut into overlapping tiles of this side (bounded memory)."""
    tile_overlap: int = 128
    image_score: Literal["detection_head", "map_top"] = "detection_head"
    """The image score: the detection head's probability, or the mean of the top 1 % of the
    localization map (chosen on the synthetic validation split)."""
    segformer: SegformerSpec = field(default_factory=SegformerSpec)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise WorkbenchError(
                f"Unknown DiffForensics encoder {self.encoder!r}.{did_you_mean(self.encoder, list(ENCODERS))}")
        if self.encoder in LITE_VARIANTS:
            object.__setattr__(self, "encoder_channels", pyramid_channels(self.encoder))
            if self.encoder_weights is not None:
                object.__setattr__(self, "encoder_weights", self.encoder)
        if self.input_size % 32 or self.tile_size % 32 or not 0 <= self.tile_overlap < self.tile_size // 2:
            raise WorkbenchError(
                f"DiffForensics input and tile sizes must be multiples of 32 and the tile overlap below "
                f"half a tile; got {self.input_size}, {self.tile_size}, {self.tile_overlap}.")
        if self.diffusion.noise not in NOISE_KINDS:
            raise WorkbenchError(f"Unknown noise {self.diffusion.noise!r}; use one of {', '.join(NOISE_KINDS)}.")
        if not 1 <= self.diffusion.fixed_timestep <= self.diffusion.timesteps:
            raise WorkbenchError(f"fixed_timestep must lie in 1..{self.diffusion.timesteps}.")

FULL = DiffForensicsConfig(
    profile="full",
    encoder="segformer",
    input_size=512,
    encoder_channels=(64, 128, 320, 512),
    decoder_channels=(256, 128, 64),
    full_resolution_channels=32,
    time_embedding_dim=256,
    detection_hidden=128,
    encoder_weights="segformer_b2_ade",
)

COMPACT = DiffForensicsConfig(
    profile="compact",
    encoder="efficientnet_lite0",
    input_size=256,
    encoder_channels=(24, 40, 112, 320),
    decoder_channels=(128, 64, 32),
    full_resolution_channels=16,
    time_embedding_dim=128,
    detection_hidden=64,
    encoder_weights="efficientnet_lite0",
    native=True,
    loss=LossConfig(balance_classes=True),
)

PROFILES: dict[str, DiffForensicsConfig] = {"full": FULL, "compact": COMPACT}


def get_config(profile: str) -> DiffForensicsConfig:
    return lookup("DiffForensics profile", profile, PROFILES)
