"""DiffForensics' EfficientNet-Lite encoders: Lite0 and Lite2 from one class, config and overrides."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from engines.method_config import apply_overrides
from engines.diffforensics.build import build_diffforensics
from engines.diffforensics.config import COMPACT, DiffForensicsConfig
from engines.backbones.efficientnet_lite import (
    LITE0_STAGES,
    EfficientNetLite,
    load_efficientnet_lite,
    pyramid_channels,
    variant_stages,
)
from engines.diffforensics.encoder import EfficientNetLiteEncoder
from engines.errors import WeightsError, WorkbenchError
from engines.store.model_store import get_store, load_state_dict

TINY_LITE2 = replace(COMPACT, profile="tiny", encoder="efficientnet_lite2", input_size=64,
                     decoder_channels=(16, 16, 8), full_resolution_channels=8, time_embedding_dim=16,
                     detection_hidden=8, encoder_weights=None)
"""The compact classes with a random EfficientNet-Lite2 and narrow decoder widths at 64 px."""


def test_lite2_scales_lite0_with_fixed_first_and_last_stage():
    assert variant_stages("efficientnet_lite0") == LITE0_STAGES
    lite2 = variant_stages("efficientnet_lite2")
    assert [s.channels for s in lite2] == [16, 24, 48, 88, 120, 208, 352]
    assert [s.repeats for s in lite2] == [1, 3, 3, 4, 4, 5, 1]
    assert [(s.kernel, s.stride, s.expansion) for s in lite2] == [(s.kernel, s.stride, s.expansion) for s in LITE0_STAGES]
    with pytest.raises(WorkbenchError, match="efficientnet_lite2"):
        variant_stages("efficientnet_lite3")


@pytest.mark.skipif(get_store().find("efficientnet_lite2") is None,
                    reason="efficientnet_lite2 weights not in the model store")
def test_lite2_loads_the_offline_weights_strictly():
    path = get_store().path("efficientnet_lite2")
    state = load_state_dict(path)
    classifier = EfficientNetLite("efficientnet_lite2")
    load_efficientnet_lite(classifier, state, str(path))
    assert set(classifier.state_dict()) == set(state)
    assert sum(p.numel() for p in classifier.parameters()) == 6_092_072
    features = EfficientNetLite("efficientnet_lite2", features_only=True)
    load_efficientnet_lite(features, state, str(path))
    assert torch.equal(features._blocks[20]._project_conv.weight, state["_blocks.20._project_conv.weight"])
    with pytest.raises(WeightsError, match="not an efficientnet_lite0 checkpoint.*wrong shape"):
        load_efficientnet_lite(EfficientNetLite("efficientnet_lite0"), state, str(path))


@pytest.mark.parametrize("variant", ["efficientnet_lite0", "efficientnet_lite2"])
def test_encoder_pyramid_strides_and_channels(variant):
    encoder = EfficientNetLiteEncoder(variant).eval()
    with torch.no_grad():
        features = encoder(torch.zeros(1, 3, 64, 96))
    assert tuple(f.shape[1] for f in features) == pyramid_channels(variant)
    assert [tuple(f.shape[-2:]) for f in features] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert pyramid_channels("efficientnet_lite2") == (24, 48, 120, 352)


def test_tiny_diffforensics_with_lite2_runs_both_stages():
    torch.manual_seed(0)
    model = build_diffforensics(TINY_LITE2, pretrained_encoder=False)
    assert model.encoder.backbone.variant == "efficientnet_lite2"
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        output = model(images)
        noise = model.predict_noise(images * 2 - 1, torch.tensor([1, 999]))
    assert output.mask_logits.shape == (2, 1, 64, 64)
    assert output.detection_logits.shape == (2,)
    assert [e.shape for e in output.edge_logits] == [(2, 1, 64, 64)] * 3
    assert noise.shape == (2, 3, 64, 64)


def test_encoder_override_brings_its_channels_and_weights():
    lite2 = apply_overrides(COMPACT, ["encoder=efficientnet_lite2"])
    assert (lite2.encoder_channels, lite2.encoder_weights) == ((24, 48, 120, 352), "efficientnet_lite2")
    assert (COMPACT.encoder_channels, COMPACT.encoder_weights) == ((24, 40, 112, 320), "efficientnet_lite0")
    back = apply_overrides(lite2, ["encoder=efficientnet_lite0"])
    assert back == COMPACT
    assert DiffForensicsConfig.from_json(lite2.to_json()) == lite2
    assert replace(TINY_LITE2, encoder="efficientnet_lite0").encoder_weights is None
    with pytest.raises(WorkbenchError, match="Did you mean 'efficientnet_lite2'"):
        apply_overrides(COMPACT, ["encoder=efficientnet_lite_2"])
