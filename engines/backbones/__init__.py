"""Pretrained backbones shared by several engines (image encoders and their SAM-style heads)."""

from engines import torchvision_compat

# This package's models come from libraries that import torchvision (transformers, diffusers,
# segment_anything, sam2); the PyPI torchvision wheel fails beside the CPU torch until its
# operators are declared: declare them before any of those imports (engines/torchvision_compat.py).
torchvision_compat.install()
