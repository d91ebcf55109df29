"""The shared training loop and its checkpoints: learning, atomic saves, resume, stop."""

from __future__ import annotations

import json

import pytest
import torch

import numpy as np

from engines.store.trained_weights import load_trainable, save_weights, trainable_state
from engines.training.cached import MASKS, CachedSegmentationTrainer
from engines.training.checkpoints import checkpoint_folder, read_state
from engines.errors import WeightsError, WorkbenchError
from engines.training.feature_cache import FeatureCache
from engines.training.losses import bce_dice_loss, dice_loss
from engines.training.loop import TrainSettings, fit, learning_rate_factor


class LineTrainer:
    """Fits y = 3x − 1 with a frozen extra layer, to check only trainable parts are saved."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))
        self.model[1].requires_grad_(False)
        self.model[1].weight.data.fill_(1.0)
        self.model[1].bias.data.zero_()
        self.x = torch.linspace(-1, 1, 64)[:, None]
        self.y = 3 * self.x - 1

    def trainable_module(self):
        return self.model

    def batches(self, epoch, generator, skip=0):
        order = torch.randperm(64, generator=generator)
        return [order[i:i + 16] for i in range(0, 64, 16)][skip:]

    def loss(self, batch):
        loss = torch.nn.functional.mse_loss(self.model(self.x[batch]), self.y[batch])
        return loss, {"mse": loss.item()}

    def validate(self):
        with torch.no_grad():
            return {"val_mse": torch.nn.functional.mse_loss(self.model(self.x), self.y).item()}

    def export(self, path):
        save_weights(trainable_state(self.model), path)


def test_fit_learns_and_saves_only_trainable(tmp_path):
    trainer = LineTrainer()
    state = fit(trainer, TrainSettings(out_dir=tmp_path, epochs=60, lr=0.1, weight_decay=0.0))
    assert state["epoch"] == 60 and state["history"][-1]["loss"] < 1e-3
    assert state["history"][-1]["val_mse"] < 1e-3
    saved = read_state(tmp_path)
    assert saved["epoch"] == 60
    assert set(trainable_state(trainer.model)) == {"0.weight", "0.bias"}
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_resume_continues_from_last_epoch(tmp_path):
    first = LineTrainer()
    fit(first, TrainSettings(out_dir=tmp_path, epochs=3, lr=0.05))
    second = LineTrainer()
    steps = []
    state = fit(second, TrainSettings(out_dir=tmp_path, epochs=5, lr=0.05),
                progress=lambda p: steps.append(p.epoch))
    assert sorted(set(steps)) == [3, 4] and state["epoch"] == 5
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3, 4, 5]


def test_stop_request_saves_progress(tmp_path):
    trainer = LineTrainer()
    before = trainer.model[0].weight.detach().clone()
    state = fit(trainer, TrainSettings(out_dir=tmp_path, epochs=5, lr=0.1), should_stop=lambda: True)
    assert state["stopped"] and state["epoch"] == 0 and state["step"] == 1
    restored = LineTrainer()
    load_trainable(restored.model, checkpoint_folder(tmp_path) / "trainable.safetensors")
    assert not torch.equal(restored.model[0].weight, before)
    assert torch.equal(restored.model[0].weight, trainer.model[0].weight)


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_weights({"a": torch.ones(2)}, path)

    def broken(tensors, filename, metadata=None):
        open(filename, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("engines.store.trained_weights.save_file", broken)
    with pytest.raises(OSError):
        save_weights({"a": torch.zeros(2)}, path)
    from safetensors.torch import load_file

    assert torch.equal(load_file(str(path))["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_load_trainable_rejects_foreign_weights(tmp_path):
    path = tmp_path / "other.safetensors"
    save_weights({"foreign.weight": torch.ones(1)}, path)
    with pytest.raises(WeightsError, match="does not fit this model"):
        load_trainable(LineTrainer().model, path)


def test_losses_on_perfect_and_wrong_predictions():
    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:6, 2:6] = 1
    perfect = (target * 2 - 1) * 20
    assert dice_loss(perfect, target) < 1e-3
    assert dice_loss(-perfect, target) > 0.9
    assert bce_dice_loss(-perfect, target)[0] > bce_dice_loss(perfect, target)[0] + 1
    plain, _ = bce_dice_loss(-perfect, target)
    weighted, _ = bce_dice_loss(-perfect, target, pos_weight=4.0)
    assert weighted > plain  # missed tampered pixels cost more


def test_killed_mid_epoch_resumes_at_the_step_with_the_same_batches(tmp_path, monkeypatch):
    """A checkpoint taken inside an epoch (every checkpoint_minutes) resumes at its step: the
    resumed run sees exactly the batches the uninterrupted one saw after that step."""
    reference = LineTrainer()
    seen_reference: list[list[int]] = []
    original_loss = LineTrainer.loss

    def recording(store):
        def loss(self, batch):
            store.append(batch.tolist())
            return original_loss(self, batch)
        return loss

    monkeypatch.setattr(LineTrainer, "loss", recording(seen_reference))
    fit(reference, TrainSettings(out_dir=tmp_path / "ref", epochs=2, lr=0.05))

    interrupted: list[list[int]] = []
    monkeypatch.setattr(LineTrainer, "loss", recording(interrupted))
    calls = iter(range(100))
    state = fit(LineTrainer(), TrainSettings(out_dir=tmp_path / "run", epochs=2, lr=0.05),
                should_stop=lambda: next(calls) == 5)  # stops after the 6th step (epoch 1, step 2)
    assert state["stopped"] and state["epoch"] == 1 and read_state(tmp_path / "run")["epoch_step"] == 2
    resumed: list[list[int]] = []
    monkeypatch.setattr(LineTrainer, "loss", recording(resumed))
    final = fit(LineTrainer(), TrainSettings(out_dir=tmp_path / "run", epochs=2, lr=0.05))
    assert interrupted + resumed == seen_reference and final["step"] == 8
    assert len([p for p in (tmp_path / "run").iterdir() if p.name.startswith("checkpoint-")]) == 1


def test_checkpoint_set_switches_atomically(tmp_path, monkeypatch):
    """A kill between writing a new set and switching the pointer leaves the old set in use."""
    trainer = LineTrainer()
    fit(trainer, TrainSettings(out_dir=tmp_path, epochs=1, lr=0.05))
    before = read_state(tmp_path)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("engines.training.checkpoints.atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        fit(LineTrainer(), TrainSettings(out_dir=tmp_path, epochs=2, lr=0.05))
    assert read_state(tmp_path) == before
    text = (checkpoint_folder(tmp_path) / "state.json").read_text()
    assert "NaN" not in text


def test_schedule_warms_up_then_decays_and_best_epoch_is_kept(tmp_path):
    settings = TrainSettings(out_dir=tmp_path, warmup_steps=4, cosine=True)
    factors = [learning_rate_factor(step, settings, total_steps=20) for step in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0] and factors[4] == 1.0
    assert all(a >= b for a, b in zip(factors[4:], factors[5:])) and factors[-1] < 0.01

    class Worsening(LineTrainer):
        scores = iter([0.5, 0.9, 0.7, 0.6, 0.4])

        def validate(self):
            return {"val_f1": next(self.scores)}

    trainer = Worsening()
    state = fit(trainer, TrainSettings(out_dir=tmp_path, epochs=5, lr=0.05, patience=2))
    assert state["early_stopped"] and state["epoch"] == 4 and state["best"] == {"epoch": 2, "value": 0.9}
    best = LineTrainer()
    load_trainable(best.model, tmp_path / "best.safetensors")
    assert torch.equal(best.model[0].weight, trainer.model[0].weight)


class PixelTrainer(CachedSegmentationTrainer):
    """A 1×1 convolution on cached 4×4 inputs: the cached trainers' loop without a real engine."""

    def forward(self, tensors, generator):
        return self.model(tensors["x"])

    def loss_fn(self, output, target):
        return bce_dice_loss(output, target)

    def export(self, path):
        save_weights(trainable_state(self.model), path)


def test_cached_trainers_lay_out_the_cosine_schedule_over_all_their_steps(tmp_path):
    """The feature-cache trainers (Detective SAM, CLUE, IFDL-VLM stage 1) once left `--cosine`
    without effect: the loop did not know their epoch length, and the rate stayed at its peak."""
    rng = np.random.default_rng(0)
    x = rng.random((20, 1, 4, 4)).astype(np.float16)
    cache = FeatureCache.build(tmp_path / "cache", 20, lambda i: {"x": x[i], MASKS: (x[i] > 0.5).astype(np.float16)})
    trainer = PixelTrainer(torch.nn.Conv2d(1, 1, 1), cache, batch_size=4, seed=0)
    assert trainer.steps_per_epoch == len(trainer.batches(0, torch.Generator())) == 5
    state = fit(trainer, TrainSettings(out_dir=tmp_path / "run", epochs=2, lr=0.1, cosine=True))
    assert state["step"] == 10
    assert state["history"][0]["lr"] == pytest.approx(0.1 * 0.5 * (1 + np.cos(np.pi * 4 / 10)))
    assert state["history"][-1]["lr"] < 0.01


def test_cosine_without_a_known_epoch_length_is_refused(tmp_path):
    with pytest.raises(WorkbenchError, match="cosine"):
        fit(LineTrainer(), TrainSettings(out_dir=tmp_path, epochs=1, cosine=True))


def test_dice_on_tampered_only_leaves_authentic_maps_to_the_bce_term():
    """On a balanced batch a per-image Dice of an empty mask pushes every map to zero (Detective
    SAM collapsed on forge v2); with `dice_on_tampered_only` the authentic image's Dice is gone."""
    target = torch.zeros(2, 1, 8, 8)
    target[1, :, 2:6, 2:6] = 1
    logits = torch.full((2, 1, 8, 8), 0.5)
    _, parts = bce_dice_loss(logits, target, dice_on_tampered_only=True)
    assert parts["dice"] == pytest.approx(dice_loss(logits[1:], target[1:]).item())
    _, every_image = bce_dice_loss(logits, target)
    assert every_image["dice"] > parts["dice"]
    _, authentic_only = bce_dice_loss(logits[:1], target[:1], dice_on_tampered_only=True)
    assert authentic_only["dice"] == 0.0
