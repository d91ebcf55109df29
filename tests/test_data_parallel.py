"""The shared training loop under `accelerate launch`: two CPU processes (gloo) follow one process
with the doubled batch, only rank 0 writes, and a run resumes with another number of processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from distributed_trainer import RESULT, train
from engines.training.checkpoints import read_state
from engines.training.data_parallel import DataParallel

SCRIPT = Path(__file__).with_name("distributed_trainer.py")
TOLERANCE = 1e-5


def launch(out: Path, batch_size: int, epochs: int, processes: int = 2) -> dict:
    """Run the tiny trainer with `accelerate launch` in CPU processes (gloo); rank 0's result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent.parent), str(SCRIPT.parent)])}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", "0", str(SCRIPT), "--out", str(out), "--batch-size", str(batch_size),
               "--epochs", str(epochs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / RESULT).read_text())


def assert_same_parameters(a: dict, b: dict) -> None:
    for name, values in a["parameters"].items():
        assert torch.allclose(torch.tensor(values), torch.tensor(b["parameters"][name]), atol=TOLERANCE), name


def test_shard_gives_each_rank_its_batch_and_counts_the_tail():
    batches = list(range(5))
    rank0 = list(DataParallel(world_size=2, rank=0).shard(batches))
    rank1 = list(DataParallel(world_size=2, rank=1).shard(batches))
    assert rank0 == [(0, 2), (2, 2), (4, 1)]
    assert rank1 == [(1, 2), (3, 2), (None, 1)]
    assert list(DataParallel().shard(batches)) == [(b, 1) for b in batches]


def test_two_processes_match_one_with_the_doubled_batch_and_only_rank_0_writes(tmp_path):
    torch.set_num_threads(1)
    single = train(tmp_path / "single", batch_size=8, epochs=3)
    double = launch(tmp_path / "ddp", batch_size=4, epochs=3)
    assert double["step"] == single["step"] == 3 * 6
    assert_same_parameters(single, double)
    losses = [h["loss"] for h in double["history"]]
    assert losses == pytest.approx([h["loss"] for h in single["history"]], abs=TOLERANCE)
    assert losses[-1] < losses[0]
    checkpoints = [p for p in (tmp_path / "ddp").iterdir() if p.name.startswith("checkpoint-")]
    assert len(checkpoints) == 1 and not list((tmp_path / "ddp").glob(".checkpoint-staging-*"))
    assert read_state(tmp_path / "ddp")["epoch"] == 3


def test_a_two_process_run_resumes_in_one_process(tmp_path):
    torch.set_num_threads(1)
    launch(tmp_path / "run", batch_size=4, epochs=1)
    resumed = train(tmp_path / "run", batch_size=8, epochs=3)
    straight = train(tmp_path / "straight", batch_size=8, epochs=3)
    assert [h["loss"] for h in resumed["history"]] == pytest.approx([h["loss"] for h in straight["history"]], abs=TOLERANCE)
    assert_same_parameters(resumed, straight)
