"""Data-parallel training for `engines.training.loop.fit`: the same command on one process or many.

Under `accelerate launch --multi_gpu --num_processes N` (accelerate's torchrun launcher, which
starts N processes on a machine without a GPU too; `--cpu` would start one) or torchrun, every
process runs the whole command; accelerate's `PartialState` joins them into one process group
(gloo on CPU, NCCL on GPU, each process on its own device). Each optimiser step, rank r takes batch r of the next N batches of
the epoch's one deterministic order, and the gradients (and the loss) are averaged over the ranks
in one all-reduce before every rank takes the same optimiser step, as DistributedDataParallel
does; the engines' trainers call their own modules, so the averaging is done here rather than by
wrapping them. N processes with batch size B thus follow one process with batch size N×B.

Rank 0 alone writes checkpoints, best weights and exports; decisions that depend on the clock or
on a stop request are agreed by all ranks. A checkpoint counts the epoch's batches consumed over
all ranks, so a run resumes with any number of processes (the learning-rate schedule counts
optimiser steps, which depend on the number of processes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import torch


class DataParallel:
    def __init__(self, world_size: int = 1, rank: int = 0) -> None:
        self.world_size = world_size
        self.rank = rank

    @classmethod
    def from_environment(cls) -> DataParallel:
        """One process, or the process group that `accelerate launch` / torchrun started."""
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return cls()
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available())
        return cls(state.num_processes, state.process_index)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batches: Iterable[Any]) -> Iterator[tuple[Any | None, int]]:
        """Per optimiser step: this rank's batch (None when the epoch's last step has fewer
        batches than ranks) and how many of the epoch's batches the step takes over all ranks."""
        iterator = iter(batches)
        while group := list(islice(iterator, self.world_size)):
            yield (group[self.rank] if self.rank < len(group) else None), len(group)

    def step(self, trainer: Any, batch: Any | None, optimizer: torch.optim.Optimizer,
             params: list[torch.nn.Parameter], step: int) -> float:
        """One optimiser step on `batch`; returns the loss (averaged over the ranks)."""
        optimizer.zero_grad(set_to_none=True)
        value = 0.0
        if batch is not None:
            loss, _ = trainer.loss(batch)
            value = loss.item()
            if math.isfinite(value):
                loss.backward()
        if self.world_size > 1:
            value = self._average_gradients(params, value, batch is not None)
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at step {step}")
        optimizer.step()
        return value

    def _average_gradients(self, params: list[torch.nn.Parameter], loss: float, has_batch: bool) -> float:
        """Sum gradients, losses and batch counts over the ranks in one all-reduce, then divide by
        the number of ranks that had a batch; a parameter no rank gave a gradient keeps none."""
        device = params[0].device
        grads = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=device) for p in params]
        flags = torch.tensor([float(p.grad is not None) for p in params] + [loss, float(has_batch)], device=device)
        flat = torch.cat([*grads, flags])
        torch.distributed.all_reduce(flat)
        count = flat[-1].item()
        offset = 0
        for index, param in enumerate(params):
            size = param.numel()
            had = flat[-(len(params) + 2) + index].item() > 0
            param.grad = (flat[offset:offset + size] / count).view_as(param).clone() if had else None
            offset += size
        return flat[-2].item() / count

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any (stop requests, time limits)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=self._device())
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return value.item() > 0

    def barrier(self) -> None:
        """Wait for every rank (before reading what rank 0 wrote)."""
        if self.world_size > 1:
            torch.distributed.barrier()

    def sync_parameters(self, module: torch.nn.Module) -> None:
        """Every rank starts from rank 0's parameters and buffers."""
        if self.world_size > 1:
            for tensor in [*module.parameters(), *module.buffers()]:
                torch.distributed.broadcast(tensor.data, src=0)

    def steps(self, batches: int) -> int:
        """Optimiser steps that take `batches` batches."""
        return math.ceil(batches / self.world_size)

    def _device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if torch.distributed.get_backend() == "nccl" \
            else torch.device("cpu")
