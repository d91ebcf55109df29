"""IFDL-VLM stage 2 (compact): region-aware visual tokens → MLP projector → a LoRA-tuned chat LM.

LLaVA-style: the frozen stage-1 vision encoder's penultimate-layer patch tokens (region-aware,
see `enhance.py`) are average-pooled to `pooled_grid`² tokens, projected to the language model's
width by a two-layer MLP and placed in the user turn before the evidence text (`teacher.py`).
The projector and the LoRA adapters train; the loss is the LM loss on the answer tokens only.
Turns use the ChatML markers of SmolLM2-Instruct.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engines.ifdl_vlm.config import ExplainerConfig

USER_START = "<|im_start|>user\n"
TURN_END = "<|im_end|>"
ASSISTANT_START = "<|im_end|>\n<|im_start|>assistant\n"
INSTRUCTION = "Explain whether and where this image was manipulated."
IGNORE_INDEX = -100
TRAINABLE_MARKERS = ("projector.", "lora_")


def load_language_model(config: ExplainerConfig, folder: Path) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a model-store folder (GGUF file or transformers layout)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if folder.is_file():
        folder, gguf_file = folder.parent, folder.name
    else:
        gguf_file = config.gguf_file
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs)
    return model, tokenizer


def line_end_stops(tokenizer: Any) -> Any:
    """Stopping criteria that end generation at the first token containing a line break."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class EndOfLine(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            return torch.tensor(["\n" in tokenizer.decode(ids[-1:]) for ids in input_ids], device=input_ids.device)

    return StoppingCriteriaList([EndOfLine()])


class Explainer(nn.Module):
    def __init__(self, config: ExplainerConfig, vision_dim: int, language_model: nn.Module, tokenizer: Any) -> None:
        super().__init__()
        from peft import LoraConfig, get_peft_model

        self.config = config
        self.tokenizer = tokenizer
        width = language_model.config.hidden_size
        self.projector = nn.Sequential(nn.Linear(vision_dim, width), nn.GELU(), nn.Linear(width, width))
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                          target_modules=list(config.lora_targets), lora_dropout=0.0)
        self.language_model = get_peft_model(language_model, lora)
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(any(marker in name for marker in TRAINABLE_MARKERS))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        names = {name for name, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names}

    def visual_tokens(self, patch_features: torch.Tensor) -> torch.Tensor:
        """(B, N, vision_dim) patch tokens on a square grid -> (B, pooled_grid², LM width)."""
        batch, count, dim = patch_features.shape
        side = int(round(count ** 0.5))
        grid = patch_features.transpose(1, 2).reshape(batch, dim, side, side)
        pooled = F.adaptive_avg_pool2d(grid, self.config.pooled_grid).flatten(2).transpose(1, 2)
        return self.projector(pooled)

    def _token_ids(self, text: str) -> torch.Tensor:
        return torch.tensor(self.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.language_model.get_input_embeddings()(ids.to(self.projector[0].weight.device))

    def _prompt_embeddings(self, visual: torch.Tensor, evidence_text: str) -> torch.Tensor:
        before = self._embed(self._token_ids(USER_START))
        after = self._embed(self._token_ids(f"\n{INSTRUCTION} {evidence_text}{ASSISTANT_START}"))
        return torch.cat([before, visual, after])

    def loss(self, patch_features: torch.Tensor, evidence_texts: list[str], answers: list[str]) -> torch.Tensor:
        """Mean LM loss over the answer tokens of a batch (sequences right-padded)."""
        visual = self.visual_tokens(patch_features)
        sequences, labels = [], []
        for tokens, evidence_text, answer in zip(visual, evidence_texts, answers, strict=True):
            prompt = self._prompt_embeddings(tokens, evidence_text)
            answer_ids = self._token_ids(answer + TURN_END)
            sequences.append(torch.cat([prompt, self._embed(answer_ids)]))
            labels.append(torch.cat([torch.full((prompt.shape[0],), IGNORE_INDEX), answer_ids]))
        length = max(s.shape[0] for s in sequences)
        width = sequences[0].shape[1]
        embeds = torch.zeros(len(sequences), length, width, device=visual.device)
        targets = torch.full((len(sequences), length), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros(len(sequences), length, dtype=torch.long)
        for i, (sequence, label) in enumerate(zip(sequences, labels, strict=True)):
            embeds[i, :sequence.shape[0]] = sequence
            targets[i, :label.shape[0]] = label
            attention[i, :sequence.shape[0]] = 1
        output = self.language_model(inputs_embeds=embeds, attention_mask=attention.to(visual.device),
                                     labels=targets.to(visual.device))
        return output.loss

    @torch.inference_mode()
    def prompt(self, patch_features: torch.Tensor, evidence_text: str) -> torch.Tensor:
        """(L, width) embeddings of the user turn and the assistant's opening for one image."""
        return self._prompt_embeddings(self.visual_tokens(patch_features)[0], evidence_text)

    @torch.inference_mode()
    def continue_line(self, prompt: torch.Tensor, answer_so_far: str) -> str:
        """Greedy decoding of the rest of the answer's current line (at most
        `config.max_line_tokens` tokens), after `prompt` (from `prompt`) and the answer text written
        so far, which ends where the line's model-written part begins (e.g. after "Type:")."""
        sequence = torch.cat([prompt, self._embed(self._token_ids(answer_so_far))])
        end = self.tokenizer.convert_tokens_to_ids(TURN_END)
        generated = self.language_model.generate(
            inputs_embeds=sequence[None],
            attention_mask=torch.ones((1, sequence.shape[0]), dtype=torch.long, device=sequence.device),
            max_new_tokens=self.config.max_line_tokens, do_sample=False,
            stopping_criteria=line_end_stops(self.tokenizer),
            eos_token_id=end if isinstance(end, int) and end >= 0 else None,
            pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0,
        )
        return self.tokenizer.decode(generated[0], skip_special_tokens=True).strip().split("\n")[0].strip()
