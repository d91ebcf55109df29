"""Evaluating several engines under several perturbations on one dataset, one report per pair.

An engine that cannot run (e.g. its weights are missing) does not stop the others: its runs are
recorded with the error message instead of a report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engines.catalog import get_engine
from engines.data.datasets import ForgeryDataset
from engines.errors import WorkbenchError
from engines.evaluation.evaluate import EvaluationReport, evaluate
from engines.data.perturb import Chain


@dataclass
class GridRun:
    engine: str
    perturbation: str
    """`Chain.describe()`, or "none"."""
    chain: Chain | None
    report: EvaluationReport | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.engine} · {self.perturbation}"


GridProgress = Callable[[int, int, str], None]
"""(images done over all runs, images in all runs, what is being analysed)."""


def evaluate_grid(
    engines: Sequence[str],
    dataset: ForgeryDataset,
    chains: Sequence[Chain | None],
    *,
    seed: int = 0,
    include_authentic: bool = False,
    progress: GridProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[GridRun]:
    if not engines:
        raise WorkbenchError("Choose at least one engine to evaluate.")
    if not chains:
        raise WorkbenchError("Choose at least one perturbation (or 'none').")
    runs = [GridRun(name, chain.describe() if chain else "none", chain) for name in engines for chain in chains]
    total = len(runs) * len(dataset)
    for position, run in enumerate(runs):
        if should_stop is not None and should_stop():
            break
        offset = position * len(dataset)

        def report_image(index: int, _total: int, name: str, offset: int = offset, run: GridRun = run) -> None:
            if progress is not None:
                progress(offset + index, total, f"{run.label}: {name}")

        try:
            engine = get_engine(run.engine)
            run.report = evaluate(engine, dataset, run.chain, seed=seed, include_authentic=include_authentic,
                                  progress=report_image, should_stop=should_stop)
        except WorkbenchError as exc:
            run.error = str(exc)
    if progress is not None:
        progress(total, total, "done")
    return runs
