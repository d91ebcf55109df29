"""Training: the loop, checkpoints, runs on disk, the held-out split, feature caches, losses and the calibration fitted at export."""
