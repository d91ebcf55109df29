"""Training-free forensic tools analysts expect: error level analysis, noise, JPEG ghosts.

Each tool returns a float32 H×W map in [0, 1] for display plus a robust z-map used by the
fusion; `engines.classic.engine.ClassicEngine` combines them into the common `Analysis`.
"""
