"""Pretrained backbones shared by several engines (image encoders and their SAM-style heads)."""
