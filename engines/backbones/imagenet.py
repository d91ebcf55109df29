"""The ImageNet pixel statistics (RGB in [0, 1]) that ImageNet-pretrained encoders, SAM and
SAM2 normalise their input with (SAM's 123.675/255 … are the same numbers)."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
