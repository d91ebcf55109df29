"""Builders for IFDL-VLM stage 1 (after segment-anything's `build_sam.py`).

`build_stage1(config, sam_checkpoint=None, vision_source=None, backbone_checkpoint=None)`:
- compact: the token vision (`token_vision.py`: the ImageNet EfficientNet-Lite backbone from
  `backbone_checkpoint`, its trainable transformer random) and LiteMedSAM's TinyViT encoder,
  prompt encoder and mask decoder (from `sam_checkpoint`, `lite_medsam.pth`);
- full: CLIP ViT-L/14 from `vision_source` (a local folder or hub id in transformers layout) or,
  without one, random at full size; SAM ViT-H's parts from `sam_checkpoint`
  (`sam_vit_h_4b8939.pth`).
Without checkpoints every part is random; under `accelerate.init_empty_weights()` the full
profile builds on the meta device (parameter-count checks without the files).
"""

from __future__ import annotations

from pathlib import Path

from engines.backbones.imagenet import IMAGENET_MEAN, IMAGENET_STD
from engines.ifdl_vlm.config import IFDLConfig, get_config
from engines.ifdl_vlm.model import IFDLStage1


def build_vision(config: IFDLConfig, vision_source: str | Path | None = None,
                 backbone_checkpoint: str | Path | None = None):
    from transformers import CLIPVisionModel

    if config.vision.backbone is not None:
        from engines.backbones.efficientnet_lite import EfficientNetLite, load_efficientnet_lite
        from engines.ifdl_vlm.token_vision import TokenVision
        from engines.store.model_store import load_state_dict

        backbone = EfficientNetLite(config.vision.backbone, features_only=True)
        if backbone_checkpoint is not None:
            load_efficientnet_lite(backbone, load_state_dict(Path(backbone_checkpoint)), str(backbone_checkpoint))
        return TokenVision(config.vision, backbone)
    if vision_source is not None:
        return CLIPVisionModel.from_pretrained(str(vision_source))
    return CLIPVisionModel(config.vision.clip_config())


def build_stage1(config: IFDLConfig | str = "compact", sam_checkpoint: str | Path | None = None,
                 vision_source: str | Path | None = None,
                 backbone_checkpoint: str | Path | None = None) -> IFDLStage1:
    """Stage 1 in eval mode on the CPU (see the module docstring)."""
    if isinstance(config, str):
        config = get_config(config)
    vision = build_vision(config, vision_source, backbone_checkpoint)
    if config.lite_medsam is not None:
        from engines.backbones.lite_medsam import build_lite_medsam

        lite = build_lite_medsam(None if sam_checkpoint is None else Path(sam_checkpoint), config.lite_medsam)
        parts = (lite.image_encoder, lite.prompt_encoder, lite.mask_decoder)
        # LiteMedSAM takes images in [0, 1] (as compact Detective SAM feeds it).
        model = IFDLStage1(config, vision, *parts)
    else:
        from segment_anything import sam_model_registry

        sam = sam_model_registry["vit_h"](checkpoint=None if sam_checkpoint is None else str(sam_checkpoint))
        model = IFDLStage1(config, vision, sam.image_encoder, sam.prompt_encoder, sam.mask_decoder,
                           IMAGENET_MEAN, IMAGENET_STD)
    return model.eval()


def llava_config(variant: str = "13b"):
    """LLaVA-1.5's `LlavaConfig` (llava-hf layout): CLIP-L/14-336 vision tower, two-layer GELU
    projector, Vicuna (Llama-2) language model, penultimate vision layer."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    text = {"7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32),
            "13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40)}
    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                              num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768)
    return LlavaConfig(vision_config=vision, text_config=LlamaConfig(vocab_size=32064, **text[variant]),
                       image_token_index=32000, projector_hidden_act="gelu",
                       vision_feature_layer=-2, vision_feature_select_strategy="default")


def build_llava(source: str | Path | None = None, variant: str = "13b"):
    """The full profile's stage-2 model: from a llava-hf folder, else random at full size (build it
    under `accelerate.init_empty_weights()` for a shape check without the files)."""
    from transformers import LlavaForConditionalGeneration

    if source is not None:
        return LlavaForConditionalGeneration.from_pretrained(str(source))
    return LlavaForConditionalGeneration(llava_config(variant))
