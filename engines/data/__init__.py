"""Images and data in: image files and their metadata, datasets, the paths a user may read, perturbations, synthetic scenes, image↔tensor helpers."""
