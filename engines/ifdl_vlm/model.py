"""IFDL-VLM stage 1: a vision transformer that classifies and prompts a SAM mask decoder.

Inputs are two views of the same image, both resized to squares the same way
(`engines.data.tensors.to_square_input`): `images` in [0, 1] at the vision input size and, for the
frozen SAM image encoder, `sam_images` at its input size. The vision transformer is CLIP (full
profile; class token taken before `post_layernorm`) or, in the compact profile, a small transformer
over frozen pretrained EfficientNet tokens (`token_vision.py`). Trained: the vision transformer
(not its frozen backbone), the classifier (Linear → ReLU → Linear), the attention prompt module,
the optional dense prompt and the mask decoder. What the frozen parts compute — the vision inputs
(`vision_inputs`: CLIP's normalised pixels, or the backbone's tokens) and the SAM image embedding
(`image_embeddings`) — can therefore be cached, and training runs `forward_from_embeddings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engines.ifdl_vlm.enhance import aligned_square_inputs, region_aware_features
from engines.ifdl_vlm.config import CLASS_NAMES, CLIP_MEAN, CLIP_STD, IFDLConfig
from engines.ifdl_vlm.prompt_module import AttentionPromptModule
from engines.ifdl_vlm.token_vision import BACKBONE, TokenVision

if TYPE_CHECKING:
    from engines.ifdl_vlm.explainer import Explainer

TRAINABLE_PREFIXES = ("vision.", "classifier.", "prompt_module.", "dense_prompt.", "mask_decoder.")
FROZEN_PREFIX = "vision." + BACKBONE


def is_trained(name: str) -> bool:
    return name.startswith(TRAINABLE_PREFIXES) and not name.startswith(FROZEN_PREFIX)


class IFDLStage1(nn.Module):
    def __init__(self, config: IFDLConfig, vision: nn.Module, image_encoder: nn.Module,
                 prompt_encoder: nn.Module, mask_decoder: nn.Module,
                 sam_pixel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 sam_pixel_std: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        self.config = config
        self.vision = vision
        width = config.vision.hidden_size
        self.classifier = nn.Sequential(
            nn.Linear(width, config.classifier_hidden), nn.ReLU(),
            nn.Linear(config.classifier_hidden, len(CLASS_NAMES)),
        )
        self.prompt_module = AttentionPromptModule(width, len(CLASS_NAMES), config.prompt_dim,
                                                   config.prompt_heads)
        self.dense_prompt = nn.Linear(width, config.prompt_dim) if config.dense_prompt else None
        if self.dense_prompt is not None:
            nn.init.zeros_(self.dense_prompt.weight)
            nn.init.zeros_(self.dense_prompt.bias)
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.register_buffer("clip_mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("clip_std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("sam_mean", torch.tensor(sam_pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("sam_std", torch.tensor(sam_pixel_std).view(1, 3, 1, 1), persistent=False)
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(is_trained(name))

    def train(self, mode: bool = True) -> IFDLStage1:
        """The frozen SAM image encoder (and a frozen vision backbone) stay in eval mode so their
        outputs match cached ones."""
        super().train(mode)
        self.image_encoder.eval()
        return self

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if is_trained(k)}

    @property
    def has_token_vision(self) -> bool:
        return isinstance(self.vision, TokenVision)

    def vision_inputs(self, images: torch.Tensor) -> torch.Tensor:
        """What the trainable vision reads from (B, 3, S, S) images in [0, 1]: the frozen backbone's
        tokens, or CLIP-normalised pixel values."""
        if self.has_token_vision:
            return self.vision.backbone_tokens(images)
        return (images - self.clip_mean) / self.clip_std

    @property
    def explainer_dim(self) -> int:
        """Width of the tokens stage 2 reads (`explainer_tokens`)."""
        if self.has_token_vision:
            return self.vision.projection.in_features
        return self.config.vision.hidden_size

    def explainer_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, N, explainer_dim) visual tokens for stage 2: the frozen backbone's tokens (compact,
        as LLaVA reads its own frozen vision tower), or CLIP's penultimate-layer patches."""
        if self.has_token_vision:
            return self.vision.backbone_tokens(images)
        return self.hidden_states(self.vision_inputs(images), layer=-2)[:, 1:]

    def image_embeddings(self, sam_images: torch.Tensor) -> torch.Tensor:
        """Frozen SAM image embedding of (B, 3, S, S) images in [0, 1]."""
        return self.image_encoder((sam_images - self.sam_mean) / self.sam_std)

    def hidden_states(self, inputs: torch.Tensor, layer: int = -1) -> torch.Tensor:
        """(B, 1 + N, width) tokens of a vision layer for `vision_inputs`.

        For CLIP, layer −1 is the last encoder layer (before `post_layernorm`, which CLIP applies
        to the pooled class token only); LLaVA-style explainers read layer −2.
        """
        if self.has_token_vision:
            return self.vision.hidden_states(inputs)[layer]
        output = self.vision(pixel_values=inputs, output_hidden_states=layer != -1)
        return output.last_hidden_state if layer == -1 else output.hidden_states[layer]

    def explainer_features(self, rgb: np.ndarray, mask: np.ndarray | None, alpha: float) -> torch.Tensor:
        """(1, N, explainer_dim) region-aware visual tokens of one image for stage 2."""
        image, square_mask = aligned_square_inputs(rgb, mask, self.config.vision.image_size)
        image, square_mask = image.to(self.clip_mean.device), square_mask.to(self.clip_mean.device)
        with torch.inference_mode():
            return region_aware_features(self.explainer_tokens, image, None if mask is None else square_mask, alpha)

    def classify(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3) class logits and (B, N, width) patch tokens of `vision_inputs`."""
        tokens = self.hidden_states(inputs)
        return self.classifier(tokens[:, 0]), tokens[:, 1:]

    def segment(self, image_embeddings: torch.Tensor, patches: torch.Tensor,
                class_logits: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) mask logits at the SAM input size, S = `config.sam_input_size`.

        segment_anything's decoder repeats the image embedding per prompt, so a batch of images
        with one prompt each is decoded image by image.
        """
        prompts = self.prompt_module(patches, class_logits)
        dense_pe = self.prompt_encoder.get_dense_pe()
        grid = image_embeddings.shape[-2:]
        dense = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
            patches.shape[0], -1, *grid)
        if self.dense_prompt is not None:
            side = int(round(patches.shape[1] ** 0.5))
            tokens = self.dense_prompt(patches).transpose(1, 2).reshape(patches.shape[0], -1, side, side)
            dense = dense + F.interpolate(tokens, size=grid, mode="bilinear", align_corners=False)
        masks = [
            self.mask_decoder(image_embeddings=image_embeddings[i:i + 1], image_pe=dense_pe,
                              sparse_prompt_embeddings=prompts[i:i + 1],
                              dense_prompt_embeddings=dense[i:i + 1], multimask_output=False)[0]
            for i in range(image_embeddings.shape[0])
        ]
        size = (self.config.sam_input_size, self.config.sam_input_size)
        return F.interpolate(torch.cat(masks), size=size, mode="bilinear", align_corners=False)

    def forward_from_embeddings(self, inputs: torch.Tensor,
                                image_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (B, 3) and mask logits (B, 1, S, S) for every image (training)."""
        class_logits, patches = self.classify(inputs)
        return class_logits, self.segment(image_embeddings, patches, class_logits)

    @torch.inference_mode()
    def class_probabilities(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3) class probabilities, the patch tokens and the logits of [0, 1] images."""
        class_logits, patches = self.classify(self.vision_inputs(images))
        return class_logits.softmax(dim=-1), patches, class_logits

    @torch.inference_mode()
    def mask_probabilities(self, sam_images: torch.Tensor, patches: torch.Tensor,
                           class_logits: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) mask probabilities (the engine segments only images it classes tampered)."""
        return torch.sigmoid(self.segment(self.image_embeddings(sam_images), patches, class_logits))


class IFDLVLMModel(nn.Module):
    """Stage 1 and, when its weights were trained, the stage-2 explainer: what the engine runs."""

    def __init__(self, stage1: IFDLStage1, explainer: Explainer | None) -> None:
        super().__init__()
        self.stage1 = stage1
        self.explainer = explainer
