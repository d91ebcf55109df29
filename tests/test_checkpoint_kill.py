"""A training process killed with SIGKILL between the files of a checkpoint set, or between the set
and its pointer, resumes from one consistent set (weights, optimiser and state of the same step)
and ends bit-identical to a run that was never killed.

Run as a script, this file is the process that gets killed: it trains `LineTrainer` for EPOCHS
epochs and sends itself SIGKILL at the chosen point while the KILLED_SET-th set is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
EPOCHS = 3
KILLED_SET = 2
KILL_POINTS = {
    "trainable": 1,  # the new set has its weights only: the set of epoch 1 stays in use
    "optimizer": 1,  # weights and optimiser, no state yet
    "state": 1,  # a complete new set, pointer not switched
    "pointer": 2,  # pointer switched, the old set not yet removed
}
"""Where the process is killed -> the epoch of the set a resume must start from."""


def train_and_die(out: Path, kill_at: str) -> None:
    import engines.training.checkpoints as checkpoints
    from engines.training.loop import TrainSettings, fit
    from test_training import LineTrainer

    sets = [0]
    real_save_weights, real_torch_save, real_atomic_write = (checkpoints.save_weights, torch.save,
                                                             checkpoints.atomic_write)

    def die_at(point: str) -> None:
        if kill_at == point and sets[0] == KILLED_SET:
            os.kill(os.getpid(), signal.SIGKILL)

    def save_weights(tensors, path, *args, **kwargs):
        real_save_weights(tensors, path, *args, **kwargs)
        if path.name == checkpoints.TRAINABLE:
            sets[0] += 1
            die_at("trainable")

    def torch_save(obj, path, *args, **kwargs):
        real_torch_save(obj, path, *args, **kwargs)
        die_at("optimizer")

    def atomic_write(path, write):
        if path.name == checkpoints.POINTER:
            die_at("state")
        real_atomic_write(path, write)
        if path.name == checkpoints.POINTER:
            die_at("pointer")

    checkpoints.save_weights, checkpoints.atomic_write, torch.save = save_weights, atomic_write, torch_save
    fit(LineTrainer(), TrainSettings(out_dir=out, epochs=EPOCHS, lr=0.05))


def trained_weights(out: Path, epochs: int) -> dict[str, torch.Tensor]:
    from engines.store.trained_weights import trainable_state
    from engines.training.loop import TrainSettings, fit
    from test_training import LineTrainer

    trainer = LineTrainer()
    fit(trainer, TrainSettings(out_dir=out, epochs=epochs, lr=0.05))
    return trainable_state(trainer.model)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, torch.Tensor]]:
    """The trainable weights after 1, 2 and 3 epochs of runs that were never killed."""
    return {epochs: trained_weights(tmp_path_factory.mktemp(f"ref{epochs}"), epochs) for epochs in (1, 2, EPOCHS)}


@pytest.mark.parametrize("kill_at", list(KILL_POINTS))
def test_kill_9_while_writing_a_checkpoint_resumes_from_one_consistent_set(kill_at, reference, tmp_path):
    from engines.store.trained_weights import load_weights
    from engines.store.trained_weights import trainable_state as current
    from engines.training.checkpoints import OPTIMIZER, STATE, TRAINABLE, checkpoint_folder, read_state
    from engines.training.loop import TrainSettings, fit
    from test_training import LineTrainer

    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    killed = subprocess.run([sys.executable, __file__, str(tmp_path), kill_at], env=environment,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    in_use = checkpoint_folder(tmp_path)
    epoch = KILL_POINTS[kill_at]
    state = read_state(tmp_path)
    assert state["epoch"] == epoch and {p.name for p in in_use.iterdir()} == {TRAINABLE, OPTIMIZER, STATE}
    weights = load_weights(in_use / TRAINABLE)
    assert all(torch.equal(weights[k], reference[epoch][k]) for k in reference[epoch])
    optimizer = torch.load(in_use / OPTIMIZER, weights_only=True)
    assert {int(s["step"]) for s in optimizer["state"].values()} == {state["step"]}

    trainer = LineTrainer()
    final = fit(trainer, TrainSettings(out_dir=tmp_path, epochs=EPOCHS, lr=0.05))
    assert final["epoch"] == EPOCHS
    assert all(torch.equal(current(trainer.model)[k], reference[EPOCHS][k]) for k in reference[EPOCHS])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(("checkpoint-", ".checkpoint-staging-"))]
    assert len(leftovers) == 1 and leftovers[0].startswith("checkpoint-")


if __name__ == "__main__":
    train_and_die(Path(sys.argv[1]), sys.argv[2])
    sys.exit("the process was not killed")
