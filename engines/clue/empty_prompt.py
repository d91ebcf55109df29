"""The SD3 text condition of CLUE's full profile: the embeddings of the empty prompt.

CLUE localises without a prompt, but SD3's MMDiT has a joint text stream that must receive
something; the natural "no prompt" input is what SD3's own text encoders (CLIP-L, CLIP-G, T5-XXL)
make of "" — the unconditional input SD3 is trained with (prompt dropout). These embeddings do not
depend on the image, so they are computed once and kept in
`<cache_dir>/clue/sd3_empty_prompt.safetensors` (keys `prompt_embeds` 1×333×4096 and
`pooled_prompt_embeds` 1×2048). The file is read when present; otherwise it is computed with the
text encoders of the local SD3 folder (`StableDiffusion3Pipeline.encode_prompt`) and written.
A machine with the transformer and VAE but without the text encoders can copy the file from one
that has them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engines.store.trained_weights import load_weights, save_weights
from engines.errors import WeightsError
from engines.settings import get_settings

PROMPT_TOKENS = 77 + 256
"""CLIP's 77 tokens followed by T5's 256 (SD3's default max_sequence_length)."""
FILE_NAME = "sd3_empty_prompt.safetensors"
TEXT_ENCODERS = ("text_encoder", "text_encoder_2", "text_encoder_3")


def empty_prompt_file() -> Path:
    return get_settings().cache_dir / "clue" / FILE_NAME


def empty_prompt_embeddings(sd3_folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(prompt_embeds 1×333×4096, pooled_prompt_embeds 1×2048) for the empty prompt."""
    path = empty_prompt_file()
    if path.is_file():
        tensors = load_weights(path)
        return tensors["prompt_embeds"], tensors["pooled_prompt_embeds"]
    missing = [name for name in TEXT_ENCODERS if not (sd3_folder / name).is_dir()]
    if missing:
        raise WeightsError(
            f"CLUE full needs SD3's empty-prompt embeddings: put them at {path} (safetensors with "
            f"prompt_embeds 1×{PROMPT_TOKENS}×4096 and pooled_prompt_embeds 1×2048), or give the SD3 "
            f"folder {sd3_folder} its text encoders ({', '.join(missing)} missing) to compute them."
        )
    from diffusers import StableDiffusion3Pipeline

    pipeline = StableDiffusion3Pipeline.from_pretrained(sd3_folder, transformer=None, vae=None)
    with torch.inference_mode():
        prompt_embeds, _, pooled, _ = pipeline.encode_prompt("", None, None, device="cpu",
                                                             do_classifier_free_guidance=False)
    save_weights({"prompt_embeds": prompt_embeds.float(), "pooled_prompt_embeds": pooled.float()}, path)
    return prompt_embeds.float(), pooled.float()
