"""Matplotlib figures of results (robustness sweeps), built without pyplot so threads can share it."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from engines.evaluation.robustness import SweepResult

AXIS_LABELS = {
    "jpeg": "JPEG quality",
    "blur": "Gaussian blur σ (px)",
    "blur_kernel": "Gaussian blur kernel (px)",
    "noise": "Gaussian noise σ (0–255)",
    "noise_var": "Gaussian noise variance",
    "resize": "resize scale",
    "gamma": "gamma",
}


def sweep_figure(results: Sequence[SweepResult]) -> Figure:
    """Score, and F1/IoU when a ground truth was given, against intensity: one line per engine,
    the clean image's value as a dashed line of the same colour. The legend sits below the axes,
    never over the data."""
    with_truth = any(r.clean.f1 is not None for r in results)
    metrics = [("score", "image score")] + ([("f1", "pixel F1"), ("iou", "pixel IoU")] if with_truth else [])
    figure = Figure(figsize=(4.2 * len(metrics), 3.9), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    axis_name = results[0].axis if results else ""
    for ax, (key, title) in zip(axes, metrics, strict=True):
        for index, result in enumerate(results):
            colour = f"C{index}"
            xs = [p.value for p in result.points]
            ys = [getattr(p, key) for p in result.points]
            ax.plot(xs, ys, marker="o", color=colour, label=result.engine)
            clean = getattr(result.clean, key)
            if clean is not None:
                ax.axhline(clean, color=colour, linestyle="--", linewidth=1, alpha=0.7)
        ax.set_title(title)
        ax.set_xlabel(AXIS_LABELS.get(axis_name, axis_name))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    figure.legend(*axes[0].get_legend_handles_labels(), title="method (dashed line: the clean image)",
                  loc="outside lower center", ncols=max(1, len(results)), fontsize="small")
    return figure
