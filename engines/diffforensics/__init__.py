"""DiffForensics: diffusion-pretrained encoder-decoder for forgery detection and localization (CVPR 2024)."""
