"""Detective SAM's `encoder_precision`: bf16 autocast of the frozen encoder, an analysis setting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engines.detective_sam.build import build_detective_sam
from engines.detective_sam.config import COMPACT, DetectiveSAMConfig
from engines.detective_sam.engine import DetectiveSAMEngine
from engines.errors import WorkbenchError
from engines.method_config import apply_overrides
from engines.store.model_store import get_store
from engines.store.trained_weights import read_trained_config
from test_detective_sam_model import TINY


def _features(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.inference_mode():
        return model.encode_streams(images, torch.Generator().manual_seed(1))


def test_bf16_runs_the_encoder_in_bfloat16_and_stays_close_to_fp32():
    torch.manual_seed(0)
    fp32 = build_detective_sam(TINY)
    bf16 = build_detective_sam(replace(TINY, encoder_precision="bf16"))
    bf16.load_state_dict(fp32.state_dict())
    seen = []
    first_linear = next(m for m in bf16.encoder.modules() if isinstance(m, nn.Linear))
    first_linear.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    expected, actual = _features(fp32, images), _features(bf16, images)

    assert seen == [torch.bfloat16]
    assert set(actual) == set(expected)
    assert not all(torch.equal(actual[name], expected[name]) for name in expected)
    for name, value in actual.items():
        assert value.dtype == torch.float32
        assert F.cosine_similarity(value.flatten(1), expected[name].flatten(1)).min() > 0.99, name
    with torch.inference_mode():
        logits = bf16.forward_from_features(actual), fp32.forward_from_features(expected)
    assert logits[0].dtype == torch.float32
    assert (torch.sigmoid(logits[0]) - torch.sigmoid(logits[1])).abs().max() < 0.05


def test_fp32_stays_the_default_an_unknown_precision_is_refused_and_older_configs_load():
    assert COMPACT.encoder_precision == DetectiveSAMEngine().config.encoder_precision == "fp32"
    with pytest.raises(WorkbenchError, match="encoder_precision must be one of fp32, bf16"):
        apply_overrides(COMPACT, ["encoder_precision=int8"])
    stored = COMPACT.to_json().replace(', "encoder_precision": "fp32"', "")
    assert "encoder_precision" not in stored
    assert DetectiveSAMConfig.from_json(stored) == COMPACT


@pytest.mark.skipif(get_store().find("lite_medsam") is None, reason="lite_medsam weights not fetched")
@pytest.mark.skipif(not DetectiveSAMEngine.shipped_weights("compact").is_file(), reason="no shipped weights")
def test_the_engine_takes_the_precision_from_its_own_configuration_not_the_weights():
    shipped = read_trained_config(DetectiveSAMEngine.shipped_weights("compact"), "detective_sam", DetectiveSAMConfig)
    assert shipped is not None and shipped.encoder_precision == "fp32"
    engine = DetectiveSAMEngine()
    engine.config = apply_overrides(engine.config, ["encoder_precision=bf16"])
    rgb = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)

    analysis = engine.analyze(rgb)

    assert engine.load().config.encoder_precision == "bf16"
    assert analysis.provenance.parameters["encoder_precision"] == "bf16"
