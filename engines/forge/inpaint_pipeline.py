"""Full-profile regeneration: a diffusers inpainting pipeline (e.g. Stable Diffusion inpainting).

Used when `--inpaint-model` names a local diffusers pipeline folder (or, with
FORGERY_OFFLINE=0, a hub id). Slow without a GPU; run such a forge with `--workers 1` on a GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.errors import WeightsError

PROMPTS = ("", "background", "a natural scene", "an object")
STRENGTH_RANGE = (0.75, 1.0)
STEPS = 20


class DiffusersInpainter:
    """Wraps any callable with the diffusers inpainting signature (image, mask_image, …) -> .images."""

    name = "diffusers"

    def __init__(self, pipeline, device: str = "cpu") -> None:
        self.pipeline = pipeline
        self.device = device

    @classmethod
    def load(cls, model: str | Path) -> DiffusersInpainter:
        import torch

        from engines import torchvision_compat

        torchvision_compat.install()  # before diffusers imports torchvision (see that module)
        from diffusers import AutoPipelineForInpainting

        from engines.device import best_device
        from engines.settings import get_settings

        device = best_device()
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        try:
            pipeline = AutoPipelineForInpainting.from_pretrained(
                str(model), torch_dtype=dtype, local_files_only=get_settings().offline
            )
        except (OSError, ValueError) as exc:
            raise WeightsError(
                f"No diffusers inpainting pipeline could be loaded from {model!r}: {exc}. Give "
                "--inpaint-model a local folder saved with `pipeline.save_pretrained(DIR)`."
            ) from exc
        pipeline.set_progress_bar_config(disable=True)
        return cls(pipeline.to(device), str(device))

    def __call__(self, crop: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        import torch
        from PIL import Image

        height, width = crop.shape[:2]
        prompt = str(rng.choice(PROMPTS))
        strength = float(rng.uniform(*STRENGTH_RANGE))
        seed = int(rng.integers(2**31))
        result = self.pipeline(
            prompt=prompt,
            image=Image.fromarray(crop),
            mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
            height=height,
            width=width,
            strength=strength,
            num_inference_steps=STEPS,
            generator=torch.Generator(self.device).manual_seed(seed),
        ).images[0]
        out = np.asarray(result.convert("RGB").resize((width, height), Image.Resampling.BICUBIC))
        return out, {"prompt": prompt, "strength": round(strength, 4), "steps": STEPS, "pipeline_seed": seed}
