"""The workbench's computing layer: engines, data, metrics and the model store (no GUI code)."""

from engines import torchvision_compat

torchvision_compat.install()
