"""Training-free forensic tools analysts expect: error level analysis, noise, JPEG ghosts, and
copy-move (clone) detection.

The trace tools return a float32 H×W map in [0, 1] for display plus a robust z-map used by the
fusion; the copy-move tool (`copy_move`) returns verified pairs of regions with a score each;
`engines.classic.engine.ClassicEngine` combines them into the common `Analysis`.
"""
