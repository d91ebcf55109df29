"""`--set KEY=VALUE` changes to engine configurations."""

from __future__ import annotations

import pytest

from engines.catalog import engine_class
from engines.method_config import apply_overrides
from engines.detective_sam.config import COMPACT
from engines.diffforensics.config import PROFILES as DIFFFORENSICS_PROFILES
from engines.errors import WorkbenchError


def test_nested_tuple_and_number_fields_are_parsed_by_their_current_type():
    config = apply_overrides(COMPACT, ["perturbation.streams=blur, jpeg", "perturbation.jpeg_quality=60",
                                       "dropout=0.2", "hidden_dim=32"])
    assert config.perturbation.streams == ("blur", "jpeg")
    assert config.perturbation.jpeg_quality == 60 and config.dropout == 0.2 and config.hidden_dim == 32
    assert COMPACT.perturbation.streams == ("blur", "noise")


def test_a_later_assignment_wins_and_other_fields_are_kept():
    config = apply_overrides(DIFFFORENSICS_PROFILES["compact"],
                             ["diffusion.noise=gaussian", "diffusion.noise=simplex", "diffusion.fixed_timestep=7"])
    assert config.diffusion.noise == "simplex" and config.diffusion.fixed_timestep == 7
    assert config.diffusion.timesteps == DIFFFORENSICS_PROFILES["compact"].diffusion.timesteps


def test_an_optional_field_takes_none_or_a_value_of_its_annotated_type():
    seeded = apply_overrides(COMPACT, ["perturbation.noise_seed=42"])
    assert seeded.perturbation.noise_seed == 42
    assert apply_overrides(seeded, ["perturbation.noise_seed=none"]).perturbation.noise_seed is None
    with pytest.raises(WorkbenchError, match="expected a value like 0"):
        apply_overrides(COMPACT, ["perturbation.noise_seed=lucky"])


@pytest.mark.parametrize(("assignment", "message"), [
    ("perturbation.strems=blur,jpeg", "Did you mean 'streams'"),
    ("perturbation=blur", "group of settings"),
    ("hidden_dim=wide", "expected a value like 64"),
    ("perturbation.streams=blur,blur", "two different perturbed streams"),
    ("hidden_dim", "KEY=VALUE"),
    ("dropout.rate=1", "no sub-fields"),
])
def test_mistakes_are_refused_with_a_message(assignment, message):
    with pytest.raises(WorkbenchError, match=message):
        apply_overrides(COMPACT, [assignment])


def test_training_free_engines_cannot_make_a_trainer():
    classic = engine_class("classic")
    assert not classic.is_trainable() and engine_class("detective_sam").is_trainable()
    with pytest.raises(WorkbenchError, match="training-free"):
        classic.make_trainer("compact", None, None, 1, 0)


def test_stored_configs_drop_retired_fields_and_refuse_unknown_ones():
    """Weights trained before a field was retired still load; a field nobody ever had is an error."""
    import json

    from engines.ifdl_vlm.config import COMPACT as IFDL_COMPACT, IFDLConfig

    stored = json.loads(IFDL_COMPACT.to_json())
    stored["explainer"]["max_new_tokens"] = 120
    assert IFDLConfig.from_json(json.dumps(stored)) == IFDL_COMPACT
    stored["explainer"]["max_new_tokenz"] = 120
    with pytest.raises(WorkbenchError, match="does not know: max_new_tokenz"):
        IFDLConfig.from_json(json.dumps(stored))
