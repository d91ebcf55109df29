"""CLUE: rectified-flow latent evidence fused with LoRA-tuned SAM features (compact and full profiles)."""
