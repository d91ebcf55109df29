"""A tiny trainer for the data-parallel tests, and the script `accelerate launch` runs:

    accelerate launch --multi_gpu --num_processes 2 tests/distributed_trainer.py --out DIR --batch-size 4

It fits a two-layer network to a fixed regression set with the shared loop (`engines.training.loop.fit`)
and rank 0 writes the final parameters and history to `DIR/result.json`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from engines.store.trained_weights import save_weights, trainable_state
from engines.training.loop import TrainSettings, fit

SAMPLES = 48
RESULT = "result.json"


class TinyTrainer:
    def __init__(self, batch_size: int) -> None:
        torch.manual_seed(0)
        self.batch_size = batch_size
        self.model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        inputs = torch.Generator().manual_seed(1)
        self.x = torch.randn(SAMPLES, 3, generator=inputs)
        self.y = torch.sin(self.x.sum(1, keepdim=True)) + 0.1 * torch.randn(SAMPLES, 1, generator=inputs)

    def trainable_module(self) -> torch.nn.Module:
        return self.model

    def batches(self, epoch, generator, skip=0):
        order = torch.randperm(SAMPLES, generator=generator)
        return [order[i:i + self.batch_size] for i in range(0, SAMPLES, self.batch_size)][skip:]

    def loss(self, batch):
        loss = torch.nn.functional.mse_loss(self.model(self.x[batch]), self.y[batch])
        return loss, {"mse": loss.item()}

    def validate(self):
        with torch.no_grad():
            return {"val_score": -torch.nn.functional.mse_loss(self.model(self.x), self.y).item()}

    def export(self, path):
        save_weights(trainable_state(self.model), path)


def train(out: Path, batch_size: int, epochs: int) -> dict:
    """Train (resuming from `out`), return the final parameters and history (rank 0 writes them)."""
    trainer = TinyTrainer(batch_size)
    state = fit(trainer, TrainSettings(out_dir=out, epochs=epochs, lr=0.02, monitor="val_score"))
    result = {"parameters": {k: v.tolist() for k, v in trainer.model.state_dict().items()},
              "history": state["history"], "step": state["step"]}
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        (out / RESULT).write_text(json.dumps(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    train(args.out, args.batch_size, args.epochs)
