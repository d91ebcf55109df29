"""Detective SAM: a frozen SAM prompted by the shift its features undergo under perturbation.

An image (B×3×S×S in [0, 1], S = `config.input_size`) is encoded three times by the frozen image
encoder: as it is and under two perturbations (blur and noise in the releases; JPEG can replace
either, see `PerturbationConfig`). The feature adapter
corrects the original features with a residual computed from the perturbed ones; the mask adapter
turns all streams into a logit prompt for SAM's mask input; the frozen prompt encoder and mask
decoder produce the mask logits, resized bilinearly to S×S.

Only the feature adapter (`adapters.*`) and the mask adapter (`mask_adapter.*`) train. Everything
up to the adapters is computed by `encode_streams`, whose output a trainer can cache;
`forward_from_features` runs the rest. Two backbones share this code (`DetectiveSAM2`,
`DetectiveLiteMedSAM`); they differ in how the three scales are read off the encoder and in how the
mask decoder is called.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from engines.backbones.precision import encoder_autocast
from engines.detective_sam.config import DetectiveSAMConfig
from engines.detective_sam.feature_adapter import FeatureAdapter
from engines.detective_sam.mask_adapter import MaskAdapter
from engines.errors import ImageInputError
from engines.data.perturb_torch import blur_tensor, jpeg_tensor, noise_tensor

TRAINABLE_PREFIXES = ("adapters.", "mask_adapter.")


def feature_name(stream: str, scale: int) -> str:
    """Key of one stream's features at one scale in `encode_streams` output, e.g. "blur_s0"."""
    return f"{stream}_s{scale}"


class DetectiveSAM(nn.Module):
    """Shared logic; subclasses set the frozen `encoder`, `sam_prompt_encoder` and `decoder`."""

    config: DetectiveSAMConfig
    encoder: nn.Module
    sam_prompt_encoder: nn.Module
    decoder: nn.Module

    def _add_adapters(self, config: DetectiveSAMConfig) -> None:
        self.config = config
        self.adapters = FeatureAdapter(
            config.scale_channels, config.hidden_dim, len(config.perturbed_streams), config.dropout
        )
        self.mask_adapter = MaskAdapter(config)
        self.register_buffer(
            "pixel_mean", torch.tensor(config.pixel_mean).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "pixel_std", torch.tensor(config.pixel_std).view(1, 3, 1, 1), persistent=False
        )
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith(TRAINABLE_PREFIXES))

    def train(self, mode: bool = True) -> DetectiveSAM:
        """The frozen encoder stays in eval mode: its batch norms (TinyViT) keep their statistics
        and its features match cached ones."""
        super().train(mode)
        self.encoder.eval()
        return self

    @property
    def scale_count(self) -> int:
        return len(self.config.scale_channels)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The adapters' weights only: all a trainer needs to save for a known backbone."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(TRAINABLE_PREFIXES)}

    def perturb(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The three streams of (B, 3, S, S) images in [0, 1], keyed by `config.streams`.

        `generator` (on the images' device) makes the noise reproducible; the engine perturbs on
        the CPU, as the authors do, so the same seed gives the same noise on any device.
        """
        expected = self.config.input_size
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[-2:] != (expected, expected):
            raise ImageInputError(
                f"Detective SAM ({self.config.profile}) takes B×3×{expected}×{expected} images "
                f"in [0, 1]; got shape {tuple(images.shape)}. Resize the image first."
            )
        settings = self.config.perturbation
        make = {
            "blur": lambda: blur_tensor(images, settings.blur_sigma, settings.blur_kernel),
            "noise": lambda: noise_tensor(images, settings.noise_std, generator),
            "jpeg": lambda: jpeg_tensor(images, settings.jpeg_quality),
        }
        return {"original": images, **{kind: make[kind]() for kind in settings.streams}}

    def encode_streams(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Frozen-encoder features of every stream and scale, keyed by `feature_name`."""
        return self.encode(self.perturb(images, generator))

    def encode(self, streams: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`encode_streams` for streams already made by `perturb`."""
        names = self.config.streams
        batch = torch.cat([streams[name] for name in names])
        with encoder_autocast(self.config.encoder_precision, batch.device):
            pyramid = self._encode((batch - self.pixel_mean) / self.pixel_std)
        features = {}
        for scale, level in enumerate(pyramid):
            for stream, chunk in zip(names, level.float().chunk(len(names)), strict=True):
                features[feature_name(stream, scale)] = chunk
        return features

    def forward_from_features(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, 1, S, S) mask logits from `encode_streams` output (the trainable part + decoder)."""
        scales = range(self.scale_count)
        original = [features[feature_name("original", s)] for s in scales]
        perturbed = [[features[feature_name(p, s)] for p in self.config.perturbed_streams] for s in scales]
        adapted = self.adapters(original, perturbed)
        prompt = self.mask_adapter(adapted, original, perturbed)
        mask_size = self.sam_prompt_encoder.mask_input_size
        if prompt.shape[-2:] != tuple(mask_size):
            prompt = F.interpolate(prompt, size=mask_size, mode="bilinear", align_corners=False)
        low_res_logits = self._decode(adapted, prompt)
        size = (self.config.input_size, self.config.input_size)
        return F.interpolate(low_res_logits, size=size, mode="bilinear", align_corners=False)

    def forward(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.forward_from_features(self.encode_streams(images, generator))

    def shift_maps(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Perturbation-shift maps for analysts: "shift_<stream>_s<scale>" → (B, H_s, W_s).

        Each is the per-pixel L2 distance (over channels) between a perturbed stream's and the
        original stream's frozen features at one scale, min-max normalised per image and map to
        [0, 1] (a flat map gives zeros). Values compare places within one map only, not maps or
        images with each other.
        """
        maps = {}
        for scale in range(self.scale_count):
            original = features[feature_name("original", scale)]
            for stream in self.config.perturbed_streams:
                distance = torch.linalg.vector_norm(
                    features[feature_name(stream, scale)] - original, dim=1
                )
                low = distance.amin(dim=(1, 2), keepdim=True)
                span = distance.amax(dim=(1, 2), keepdim=True) - low
                maps[f"shift_{stream}_s{scale}"] = torch.where(
                    span > 0, (distance - low) / span.clamp(min=torch.finfo(span.dtype).tiny), 0.0
                )
        return maps

    def _encode(self, normalised: torch.Tensor) -> list[torch.Tensor]:
        """The frozen encoder's features at scales s0, s1, s2 (see `config`)."""
        raise NotImplementedError

    def _decode(self, adapted: list[torch.Tensor], prompt: torch.Tensor) -> torch.Tensor:
        """Low-resolution mask logits (B, 1, h, w) from the adapted scales and the prompt."""
        raise NotImplementedError


class DetectiveSAM2(DetectiveSAM):
    """The paper's model on SAM2 (full profile): parts of a `sam2` SAM2Base, keys as released."""

    def __init__(
        self,
        config: DetectiveSAMConfig,
        image_encoder: nn.Module,
        prompt_encoder: nn.Module,
        mask_decoder: nn.Module,
        no_mem_embed: nn.Parameter,
    ) -> None:
        super().__init__()
        self.encoder = image_encoder
        self.decoder = mask_decoder
        self.sam_prompt_encoder = prompt_encoder
        self.no_mem_embed = no_mem_embed
        self._add_adapters(config)

    def _encode(self, normalised: torch.Tensor) -> list[torch.Tensor]:
        fpn = self.encoder(normalised)["backbone_fpn"]
        embedding = fpn[2] + self.no_mem_embed.view(1, -1, 1, 1)
        return [embedding, self.decoder.conv_s0(fpn[0]), self.decoder.conv_s1(fpn[1])]

    def _decode(self, adapted: list[torch.Tensor], prompt: torch.Tensor) -> torch.Tensor:
        sparse, dense = self.sam_prompt_encoder(points=None, boxes=None, masks=prompt)
        logits, *_ = self.decoder(
            image_embeddings=adapted[0],
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
            repeat_image=False,
            high_res_features=adapted[1:],
        )
        return logits


class DetectiveLiteMedSAM(DetectiveSAM):
    """Compact profile: LiteMedSAM's TinyViT, prompt encoder and (SAM1) mask decoder.

    SAM1's decoder has no high-resolution inputs: s1 and s2 reach it only through the prompt.
    """

    def __init__(
        self,
        config: DetectiveSAMConfig,
        image_encoder: nn.Module,
        prompt_encoder: nn.Module,
        mask_decoder: nn.Module,
    ) -> None:
        super().__init__()
        self.encoder = image_encoder
        self.decoder = mask_decoder
        self.sam_prompt_encoder = prompt_encoder
        self._add_adapters(config)

    def _encode(self, normalised: torch.Tensor) -> list[torch.Tensor]:
        features = self.encoder.forward_features(normalised)
        return [features[name] for name in self.config.tiny_vit_scales]

    def _decode(self, adapted: list[torch.Tensor], prompt: torch.Tensor) -> torch.Tensor:
        sparse, dense = self.sam_prompt_encoder(points=None, boxes=None, masks=prompt)
        image_pe = self.sam_prompt_encoder.get_dense_pe()
        # SAM1's decoder repeats the image embedding per prompt of the batch: one call per image.
        logits = [
            self.decoder(
                image_embeddings=adapted[0][i : i + 1],
                image_pe=image_pe,
                sparse_prompt_embeddings=sparse[i : i + 1],
                dense_prompt_embeddings=dense[i : i + 1],
                multimask_output=False,
            )[0]
            for i in range(prompt.shape[0])
        ]
        return torch.cat(logits)
