"""The workbench's computing layer: engines, data, metrics and the model store (no GUI code).

Importing it has no side effects: the torchvision fix (`engines.torchvision_compat`) is installed
by the method packages that build models, before they import the libraries that need it.
"""
