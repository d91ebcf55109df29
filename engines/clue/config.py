"""CLUE configurations as data: the `full` (paper) and `compact` (CPU) profiles.

Both profiles run the same classes (`engines.clue.model.CLUE`); a config fixes the backbones, the
input sizes, the noise schedule and the sizes of the trainable heads. Choices the paper leaves open
([open] in docs/methods.md) are fixed here and explained next to the field that holds them.

full — the paper's backbones: the SD3 VAE (`AutoencoderKL`, 16 latent channels, latents scaled as
SD3 does: (z − 0.0609) · 1.5305) at 512 px; SD3-medium's MMDiT with peft LoRA on the image-stream
`to_q/to_k/to_v`, conditioned on the precomputed embeddings of the empty prompt (see
`engines.clue.empty_prompt`); a segment-anything ViT-B image encoder at 1024 px with LoRA on every
block's `qkv`. Forensic features: the image tokens of blocks 6, 12, 18 and 24.

compact — what exists offline, sized for a 2-core CPU:
- latent branch: the TAEF2 encoder (frozen; raw 32-channel latents, /8) at 256 px, then a small
  `SD3Transformer2DModel` (4 blocks, width 128) **trained from scratch**: no pretrained SD3 exists
  here, and LoRA on a random transformer would only restrict it. Text conditioning is a learned
  null token (the transformer keeps SD3's joint text stream; there is simply no prompt).
  256 px rather than 512 px because TAEF2's full-resolution convolutions cost 31 GFLOP per image at
  256 px and 123 GFLOP at 512 px, which would dominate feature caching and inference on this CPU.
- SAM branch: LiteMedSAM's TinyViT (pretrained, frozen) at 128 px with peft LoRA (rank 16) on the
  attention `qkv` of its **last block only** (1 of its 10 attention blocks). Everything before that
  block carries no LoRA and is frozen, so its output (320×32×32) is cached once per dataset
  (`engines.training.feature_cache`) and each training step runs only that block and the neck. Per training
  sample (forward + backward of everything that trains) this costs 13.8 GFLOP; LoRA on the whole
  last stage 19.6 GFLOP, on all three attention stages 43.1 GFLOP (counted with
  `torch.utils.flop_counter`). 128 px as in Detective SAM compact (TinyViT's first stage runs at
  full input resolution: 256 px costs ~4× more).
- both branches meet on a 32×32 grid (TinyViT's embedding; the 16×16 transformer tokens are
  upsampled bilinearly); the map is produced at 128 px.

Noise (both profiles): `FlowMatchEulerDiscreteScheduler(shift=3.0)` with `schedule_steps` inference
steps; the noise levels are the scheduler's own `timesteps` at `noise_step_indices` (positions in
that schedule, from the noisiest first). The positions are fixed, so the shift alone moves the
noise levels: with 10 steps, positions 6 and 8 are σ = 0.334 and 0.112 with shift 1.0, and
σ = 0.602 and 0.278 with shift 3.0 (a larger shift raises every noise level, as the paper says).
The schedule's last position is left out: it is almost noise-free (σ = 0.009 with shift 3.0).
`noise="none"` is the paper's "zero noise" ablation: the clean latent with timestep 0, one level.

Image score: the mean of the top 1 % of the output map's probabilities
(`engines.data.tensors.top_fraction_mean`): CLUE has no detection head, and a max would be set by one
stray pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engines.backbones.imagenet import IMAGENET_MEAN, IMAGENET_STD
from engines.errors import WorkbenchError
from engines.method_config import MethodConfig
from engines.registry import lookup


SD3_MEDIUM_TRANSFORMER: dict[str, Any] = {
    "sample_size": 128,
    "patch_size": 2,
    "in_channels": 16,
    "num_layers": 24,
    "attention_head_dim": 64,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "caption_projection_dim": 1536,
    "pooled_projection_dim": 2048,
    "out_channels": 16,
    "pos_embed_max_size": 192,
}
"""stabilityai/stable-diffusion-3-medium-diffusers transformer/config.json (2.03B parameters)."""

SD3_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 16,
    "norm_num_groups": 32,
    "sample_size": 1024,
    "scaling_factor": 1.5305,
    "shift_factor": 0.0609,
    "force_upcast": True,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
}
"""stabilityai/stable-diffusion-3-medium-diffusers vae/config.json (83.8M parameters)."""

SAM_VIT_B: dict[str, Any] = {
    "img_size": 1024,
    "patch_size": 16,
    "embed_dim": 768,
    "depth": 12,
    "num_heads": 12,
    "mlp_ratio": 4.0,
    "out_chans": 256,
    "qkv_bias": True,
    "use_rel_pos": True,
    "window_size": 14,
    "global_attn_indexes": (2, 5, 8, 11),
}
"""segment_anything `build_sam_vit_b`'s image encoder (89.7M parameters)."""

COMPACT_TRANSFORMER: dict[str, Any] = {
    "sample_size": 32,
    "patch_size": 2,
    "in_channels": 32,
    "num_layers": 4,
    "attention_head_dim": 32,
    "num_attention_heads": 4,
    "joint_attention_dim": 64,
    "caption_projection_dim": 128,
    "pooled_projection_dim": 64,
    "out_channels": 32,
    "pos_embed_max_size": 16,
}
"""A small MMDiT for 32-channel TAEF2 latents of 256-px images (16×16 tokens, width 128)."""


@dataclass(frozen=True)
class LatentBranchConfig:
    autoencoder: Literal["sd3_vae", "taef2"]
    input_size: int
    """Side of the square image the autoencoder encodes."""
    transformer: dict[str, Any]
    """`SD3Transformer2DModel` keyword arguments."""
    feature_blocks: tuple[int, ...]
    """Indices of `transformer_blocks` whose image tokens form the forensic feature map."""
    scaling_factor: float = 1.0
    shift_factor: float = 0.0
    """Latents are (z − shift_factor) · scaling_factor (SD3's convention); TAEF2's are used raw."""
    vae: dict[str, Any] = field(default_factory=dict)
    """`AutoencoderKL` keyword arguments (autoencoder "sd3_vae")."""
    noise: Literal["rectified_flow", "none"] = "rectified_flow"
    shift: float = 3.0
    schedule_steps: int = 10
    noise_step_indices: tuple[int, ...] = (6, 8)
    text_conditioning: Literal["empty_prompt", "null_token"] = "null_token"
    null_tokens: int = 4
    """Length of the learned null sequence (compact)."""
    lora_rank: int | None = None
    """LoRA rank on to_q/to_k/to_v; None trains the transformer itself (compact: from scratch)."""
    lora_alpha: float = 16.0

    def __post_init__(self) -> None:
        layers = self.transformer["num_layers"]
        if not self.feature_blocks or not all(0 <= b < layers for b in self.feature_blocks):
            raise WorkbenchError(f"feature_blocks {self.feature_blocks} must index the {layers} blocks")
        if not all(0 <= i < self.schedule_steps for i in self.noise_step_indices):
            raise WorkbenchError(
                f"noise_step_indices {self.noise_step_indices} must lie in the {self.schedule_steps}-step schedule"
            )
        tokens = self.latent_size // self.transformer["patch_size"]
        if tokens > self.transformer["pos_embed_max_size"]:
            raise WorkbenchError(
                f"{tokens} tokens per side exceed pos_embed_max_size {self.transformer['pos_embed_max_size']}"
            )

    @property
    def latent_size(self) -> int:
        return self.input_size // 8

    @property
    def token_grid(self) -> int:
        return self.latent_size // self.transformer["patch_size"]

    @property
    def width(self) -> int:
        """Channels of one block's image tokens."""
        return self.transformer["attention_head_dim"] * self.transformer["num_attention_heads"]

    @property
    def level_count(self) -> int:
        return 1 if self.noise == "none" else len(self.noise_step_indices)

    @property
    def level_channels(self) -> int:
        """Channels of one noise level's features (its blocks, concatenated)."""
        return self.width * len(self.feature_blocks)


@dataclass(frozen=True)
class SAMBranchConfig:
    encoder: Literal["sam_vit_b", "lite_medsam"]
    input_size: int
    out_channels: int
    grid: int
    """Side of the encoder's output feature map."""
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]
    """Normalisation of the [0, 1] image before the encoder."""
    prefix_stages: int
    """Leading stages (TinyViT) or blocks (ViT) that carry no LoRA: frozen, so cacheable."""
    prefix_blocks: int = 0
    """TinyViT only: the prefix also takes this many leading blocks of stage `prefix_stages`."""
    lora_rank: int = 8
    lora_alpha: float = 16.0
    vit: dict[str, Any] = field(default_factory=dict)
    """`ImageEncoderViT` keyword arguments (encoder "sam_vit_b")."""
    tiny_vit: dict[str, Any] = field(default_factory=dict)
    """`TinyViTConfig` keyword arguments besides image_size (encoder "lite_medsam"; empty: LiteMedSAM's)."""


@dataclass(frozen=True)
class CLUEConfig(MethodConfig):
    profile: str
    latent: LatentBranchConfig
    sam: SAMBranchConfig
    fusion_dim: int = 128
    fusion_groups: int = 8
    localization_dim: int = 64
    output_size: int = 128
    """Side of the predicted map; the localization module upsamples by output_size / sam.grid."""
    probe_dim: int = 32
    """Hidden width of the analysts' evidence probes (see `engines.clue.fusion.EvidenceProbe`)."""

    def __post_init__(self) -> None:
        if self.output_size % self.sam.grid:
            raise WorkbenchError(f"output_size {self.output_size} is not a multiple of the {self.sam.grid} grid")

    @property
    def upsample_factor(self) -> int:
        return self.output_size // self.sam.grid

FULL = CLUEConfig(
    profile="full",
    latent=LatentBranchConfig(
        autoencoder="sd3_vae",
        input_size=512,
        transformer=SD3_MEDIUM_TRANSFORMER,
        feature_blocks=(5, 11, 17, 23),
        scaling_factor=SD3_VAE["scaling_factor"],
        shift_factor=SD3_VAE["shift_factor"],
        vae=SD3_VAE,
        text_conditioning="empty_prompt",
        lora_rank=16,
        lora_alpha=16.0,
    ),
    sam=SAMBranchConfig(
        encoder="sam_vit_b",
        input_size=1024,
        out_channels=256,
        grid=64,
        pixel_mean=IMAGENET_MEAN,
        pixel_std=IMAGENET_STD,
        prefix_stages=0,
        vit=SAM_VIT_B,
    ),
    fusion_dim=256,
    fusion_groups=32,
    localization_dim=128,
    output_size=256,
)

COMPACT = CLUEConfig(
    profile="compact",
    latent=LatentBranchConfig(
        autoencoder="taef2",
        input_size=256,
        transformer=COMPACT_TRANSFORMER,
        feature_blocks=(1, 3),
    ),
    sam=SAMBranchConfig(
        encoder="lite_medsam",
        input_size=128,
        out_channels=256,
        grid=32,
        # LiteMedSAM was trained on images min-max scaled to [0, 1]: fed as they are.
        pixel_mean=(0.0, 0.0, 0.0),
        pixel_std=(1.0, 1.0, 1.0),
        prefix_stages=3,
        prefix_blocks=1,
        lora_rank=16,
        lora_alpha=16.0,
    ),
)

PROFILES: dict[str, CLUEConfig] = {"full": FULL, "compact": COMPACT}


def get_config(profile: str) -> CLUEConfig:
    return lookup("CLUE profile", profile, PROFILES)
