"""The held-out split every trainer makes: the same samples are held out for a dataset and seed
whichever engine or stage trains on it (IFDL-VLM's explainer is evaluated on the samples its
stage 1 never saw)."""

from __future__ import annotations

import numpy as np

VALIDATION_FRACTION = 0.1


def held_out_split(count: int, seed: int, validation_fraction: float = VALIDATION_FRACTION) -> tuple[list[int], list[int]]:
    """(train, validation) sample indices, each sorted: a seeded permutation, its first
    `round(count · validation_fraction)` held out."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = int(round(count * validation_fraction))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())
