"""IFDL-VLM stage 1: a CLIP vision transformer that classifies and prompts a SAM mask decoder.

Inputs are two views of the same image, both resized to squares the same way
(`engines.data.tensors.to_square_input`): `clip_images` at the vision input size and, for the frozen SAM
image encoder, `sam_images` at its input size. Everything below the SAM image encoder trains
except SAM's prompt encoder: the CLIP model (class token taken before `post_layernorm`), the
classifier (Linear → ReLU → Linear), the attention prompt module and the mask decoder. The frozen
image embedding can therefore be cached (`image_embeddings`) and training runs
`forward_from_embeddings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engines.ifdl_vlm.enhance import aligned_square_inputs, region_aware_features
from engines.ifdl_vlm.config import CLASS_NAMES, CLIP_MEAN, CLIP_STD, TAMPERED_CLASS, IFDLConfig
from engines.ifdl_vlm.prompt_module import AttentionPromptModule

if TYPE_CHECKING:
    from engines.ifdl_vlm.explainer import Explainer

TRAINABLE_PREFIXES = ("vision.", "classifier.", "prompt_module.", "mask_decoder.")


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
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.register_buffer("clip_mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("clip_std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("sam_mean", torch.tensor(sam_pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("sam_std", torch.tensor(sam_pixel_std).view(1, 3, 1, 1), persistent=False)
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith(TRAINABLE_PREFIXES))

    def train(self, mode: bool = True) -> IFDLStage1:
        """The frozen SAM image encoder stays in eval mode so its outputs match cached ones."""
        super().train(mode)
        self.image_encoder.eval()
        return self

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if k.startswith(TRAINABLE_PREFIXES)}

    def normalise(self, clip_images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> CLIP-normalised pixel values."""
        return (clip_images - self.clip_mean) / self.clip_std

    def image_embeddings(self, sam_images: torch.Tensor) -> torch.Tensor:
        """Frozen SAM image embedding of (B, 3, S, S) images in [0, 1]."""
        return self.image_encoder((sam_images - self.sam_mean) / self.sam_std)

    def hidden_states(self, pixel_values: torch.Tensor, layer: int = -1) -> torch.Tensor:
        """(B, 1 + N, width) tokens of a CLIP layer for normalised pixel values.

        Layer −1 is the last encoder layer (before `post_layernorm`, which CLIP applies to the
        pooled class token only); LLaVA-style explainers read layer −2.
        """
        output = self.vision(pixel_values=pixel_values, output_hidden_states=layer != -1)
        return output.last_hidden_state if layer == -1 else output.hidden_states[layer]

    def explainer_features(self, rgb: np.ndarray, mask: np.ndarray | None, alpha: float) -> torch.Tensor:
        """(1, N, width) region-aware penultimate-layer patch tokens of one image for stage 2."""
        image, square_mask = aligned_square_inputs(rgb, mask, self.config.vision.image_size)
        image, square_mask = image.to(self.clip_mean.device), square_mask.to(self.clip_mean.device)
        with torch.inference_mode():
            return region_aware_features(lambda x: self.hidden_states(x, layer=-2)[:, 1:], self.normalise(image),
                                         None if mask is None else square_mask, alpha)

    def classify(self, clip_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3) class logits and (B, N, width) patch tokens of [0, 1] images."""
        tokens = self.hidden_states(self.normalise(clip_images))
        return self.classifier(tokens[:, 0]), tokens[:, 1:]

    def segment(self, image_embeddings: torch.Tensor, patches: torch.Tensor,
                class_logits: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) mask logits at the SAM input size, S = `config.sam_input_size`.

        segment_anything's decoder repeats the image embedding per prompt, so a batch of images
        with one prompt each is decoded image by image.
        """
        prompts = self.prompt_module(patches, class_logits)
        dense_pe = self.prompt_encoder.get_dense_pe()
        dense = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
            1, -1, *image_embeddings.shape[-2:])
        masks = [
            self.mask_decoder(image_embeddings=image_embeddings[i:i + 1], image_pe=dense_pe,
                              sparse_prompt_embeddings=prompts[i:i + 1],
                              dense_prompt_embeddings=dense, multimask_output=False)[0]
            for i in range(image_embeddings.shape[0])
        ]
        size = (self.config.sam_input_size, self.config.sam_input_size)
        return F.interpolate(torch.cat(masks), size=size, mode="bilinear", align_corners=False)

    def forward_from_embeddings(self, clip_images: torch.Tensor,
                                image_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (B, 3) and mask logits (B, 1, S, S) for every image (training)."""
        class_logits, patches = self.classify(clip_images)
        return class_logits, self.segment(image_embeddings, patches, class_logits)

    @torch.inference_mode()
    def predict(self, clip_images: torch.Tensor, sam_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities (B, 3) and mask probabilities (B, 1, S, S).

        Only images predicted tampered are segmented; the others get an all-zero mask.
        """
        class_logits, patches = self.classify(clip_images)
        probabilities = class_logits.softmax(dim=-1)
        size = self.config.sam_input_size
        masks = torch.zeros(clip_images.shape[0], 1, size, size, device=clip_images.device)
        tampered = probabilities.argmax(dim=-1) == TAMPERED_CLASS
        if tampered.any():
            embeddings = self.image_embeddings(sam_images[tampered])
            logits = self.segment(embeddings, patches[tampered], class_logits[tampered])
            masks[tampered] = torch.sigmoid(logits)
        return probabilities, masks


class IFDLVLMModel(nn.Module):
    """Stage 1 and, when its weights were trained, the stage-2 explainer: what the engine runs."""

    def __init__(self, stage1: IFDLStage1, explainer: Explainer | None) -> None:
        super().__init__()
        self.stage1 = stage1
        self.explainer = explainer
