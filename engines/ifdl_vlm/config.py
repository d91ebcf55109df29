"""IFDL-VLM configurations as data: the `full` (paper) and `compact` (CPU) profiles.

Both profiles run the same classes (see `model.py`, `explainer.py`):

full — stage 1: CLIP ViT-L/14 at 224 px (`openai/clip-vit-large-patch14`, fully trainable) →
3-way classifier and attention prompt module → SAM ViT-H prompt encoder + mask decoder (encoder
and prompt encoder frozen, decoder trained); stage 2: LLaVA-1.5-13B (`llava-hf`), its own
CLIP-L/14-336 vision tower fed the region-aware features, LoRA r 128 / α 256 on the LLM.

compact — stage 1: the frozen ImageNet EfficientNet-Lite0's feature maps (strides 8, 16 and 32 of
the 384 px image, pooled to 12×12 tokens) → a small trainable transformer (width 192, 2 layers,
class token; `token_vision.py`) → the same heads → LiteMedSAM's prompt encoder + mask decoder on
the frozen TinyViT embedding of the 128 px image, prompted by the sparse token and a dense prompt
from the patch tokens; stage 2: the frozen EfficientNet tokens (region-aware, average-pooled to
4×4 = 16 visual tokens, as LLaVA reads its own frozen vision tower) → MLP projector →
SmolLM2-135M-Instruct with LoRA r 8 on q/v.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.backbones.lite_medsam import LiteMedSAMConfig
from engines.backbones.tiny_vit import TinyViTConfig
from engines.method_config import MethodConfig
from engines.registry import lookup

CLASS_NAMES = ("real", "fully synthetic", "tampered")
"""Class order of the classifier (the authors' 0 real, 1 fully synthetic, 2 tampered)."""
TAMPERED_CLASS = 2
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VisionConfig:
    """`transformers.CLIPVisionConfig` fields; `pretrained` names a model-store entry (or None:
    trained from scratch)."""

    image_size: int = 224
    patch_size: int = 14
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    pretrained: str | None = "clip_vit_large_patch14"
    backbone: str | None = None
    """A frozen ImageNet encoder (model-store entry, e.g. "efficientnet_lite0") whose feature maps
    become the tokens of a small trainable transformer (`token_vision.py`) instead of CLIP's patches."""
    backbone_stages: tuple[int, ...] = ()
    """Which of the backbone's stage outputs (`EfficientNetLite.forward_stages`) make the tokens."""
    token_grid: int = 12
    """Backbone maps are average-pooled to token_grid² tokens."""

    def clip_config(self) -> Any:
        from transformers import CLIPVisionConfig

        return CLIPVisionConfig(
            image_size=self.image_size, patch_size=self.patch_size, hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size, num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads, projection_dim=self.hidden_size,
        )

    @property
    def grid(self) -> int:
        return self.token_grid if self.backbone else self.image_size // self.patch_size


@dataclass(frozen=True)
class ExplainerConfig:
    """Stage 2: the language model, how visual tokens reach it, and its LoRA."""

    language_model: str = "llava_1_5_13b"
    """Model-store entry: a LLaVA folder (full) or a GGUF causal LM (compact)."""
    gguf_file: str | None = None
    pooled_grid: int = 24
    """Patch tokens are average-pooled to pooled_grid² visual tokens (24² = all of CLIP-L/336)."""
    alpha: float = 0.5
    """Region-aware enhancement: α·V(x) + (1 − α)·V(x ⊙ M)."""
    lora_rank: int = 128
    lora_alpha: int = 256
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    max_line_tokens: int = 24
    """Cap of one model-written line of an explanation (`engines.ifdl_vlm.compose`)."""

    RETIRED_FIELDS = ("max_new_tokens",)
    """The cap of a whole generated explanation, before explanations were composed line by line."""


@dataclass(frozen=True)
class IFDLConfig(MethodConfig):
    profile: str
    vision: VisionConfig
    explainer: ExplainerConfig
    sam: str = "sam_vit_h"
    """Model-store entry of the SAM whose prompt encoder and mask decoder stage 1 uses."""
    lite_medsam: LiteMedSAMConfig | None = None
    """Set for the compact profile: LiteMedSAM replaces SAM, run at `sam_input_size`."""
    sam_input_size: int = 1024
    classifier_hidden: int = 512
    prompt_dim: int = 256
    prompt_heads: int = 8
    dense_prompt: bool = False
    """Also prompt the mask decoder densely: the patch tokens projected to the prompt width on the
    image embedding's grid (SAM's dense prompt slot, which otherwise holds `no_mask_embed`)."""


FULL = IFDLConfig(
    profile="full",
    vision=VisionConfig(),
    explainer=ExplainerConfig(),
)

COMPACT = IFDLConfig(
    profile="compact",
    vision=VisionConfig(image_size=384, patch_size=32, hidden_size=192, intermediate_size=768,
                        num_hidden_layers=2, num_attention_heads=3, pretrained=None,
                        backbone="efficientnet_lite0", backbone_stages=(2, 4, 6), token_grid=12),
    explainer=ExplainerConfig(
        language_model="smollm2_135m_instruct_q4_1",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        pooled_grid=4,
        lora_rank=8,
        lora_alpha=16,
        lora_targets=("q_proj", "v_proj"),
    ),
    sam="lite_medsam",
    lite_medsam=LiteMedSAMConfig(encoder=TinyViTConfig(image_size=128)),
    sam_input_size=128,
    classifier_hidden=256,
    dense_prompt=True,
)

PROFILES: dict[str, IFDLConfig] = {"full": FULL, "compact": COMPACT}


def get_config(profile: str) -> IFDLConfig:
    return lookup("IFDL-VLM profile", profile, PROFILES)
