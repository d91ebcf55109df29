"""The numeric precision a frozen image encoder runs at: fp32, or bf16 through autocast.

bf16 autocast runs the encoder's convolutions and matrix products in bfloat16 and keeps its
weights in float32, so any checkpoint works unchanged. LiteMedSAM's TinyViT at 128 px on this
project's CPU (AVX-512 BF16, one thread): 1.63× less CPU time, features at cosine ≥ 0.998 of
fp32's; dynamic int8 quantisation of its Linear layers gained 1.22× at cosine 0.96, so it is not
offered (`bench/encoder_speed.py`, docs/benchmarks.md). On a CPU without bf16 instructions
autocast may be slower than fp32: measure before choosing it there.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from engines.errors import WorkbenchError

ENCODER_PRECISIONS = ("fp32", "bf16")


def check_encoder_precision(precision: str) -> None:
    if precision not in ENCODER_PRECISIONS:
        raise WorkbenchError(
            f"encoder_precision must be one of {', '.join(ENCODER_PRECISIONS)}; got {precision!r}."
        )


def encoder_autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The context to run the encoder in on `device`; its outputs may be bfloat16 under bf16."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
