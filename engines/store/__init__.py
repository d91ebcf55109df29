"""The model store (named pretrained weights: where, licence, fetch), the one writer/reader of trained weights, and what each engine × profile has on disk."""
