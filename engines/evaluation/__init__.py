"""Evaluation on a dataset: metrics, per-image tables, robustness sweeps and the perturbation grid."""
