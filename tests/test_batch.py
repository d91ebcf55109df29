"""Batch analysis on Ray Data: inputs confined like the app's, the Parquet table's schema, resume
by SHA-256 and weights, error rows, mask run lengths; Ray in local mode, started once."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
import torch
from PIL import Image

from engines.batch.inputs import BatchInput, collect_inputs
from engines.batch.rle import decode_mask, encode_mask
from engines.batch.runner import LOCAL_OBJECT_STORE_BYTES, BatchRequest, run_batch
from engines.batch.schema import DONE, SCHEMA, SKIPPED, STATUS
from engines.batch.table import PartWriter, done_keys, read_table, rows_folder
from engines.batch.worker import EngineWorker
from engines.errors import WorkbenchError
from engines.settings import get_settings


STARTS = 3
"""Ray waits a fixed 30 s for its node to register; on a machine busy with other work, try again."""


@pytest.fixture(scope="module")
def local_ray():
    for attempt in range(STARTS):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES)
            break
        except Exception as error:  # Ray raises a bare Exception when its node starts too slowly
            ray.shutdown()
            if attempt == STARTS - 1 or "timed out during startup" not in str(error):
                raise
    yield
    ray.shutdown()


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A runs folder under tmp_path: a readable root, as the app's own."""
    monkeypatch.setenv("FORGERY_RUNS", str(tmp_path / "runs"))
    get_settings.cache_clear()
    yield tmp_path / "runs"
    get_settings.cache_clear()


def write_images(folder, spliced_image, count: int, start: int = 0) -> list:
    """`count` distinct small images (different crops of the spliced test image), and their paths."""
    rgb, _ = spliced_image
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        path = folder / f"image{index}.png"
        Image.fromarray(rgb[index * 4:index * 4 + 160, index * 6:index * 6 + 200]).save(path)
        paths.append(path)
    return paths


def test_mask_run_lengths_round_trip():
    rng = np.random.default_rng(0)
    for mask in (rng.random((7, 5)) > 0.6, np.ones((3, 4), bool), np.zeros((2, 2), bool)):
        counts = encode_mask(mask)
        assert sum(counts) == mask.size
        assert np.array_equal(decode_mask(counts, *mask.shape), mask)
    assert encode_mask(np.array([[True, False], [True, True]])) == [0, 2, 1, 1]  # column-major, zeros first


def test_inputs_from_folder_glob_and_list_are_confined(runs, tmp_path, spliced_image):
    paths = write_images(runs / "in" / "sub", spliced_image, 2)
    (runs / "in" / "notes.txt").write_text("not an image")
    assert [i.path for i in collect_inputs(runs / "in")] == [str(p) for p in paths]
    assert [i.path for i in collect_inputs(f"{runs}/in/**/*.png")] == [str(p) for p in paths]
    listed = runs / "in" / "list.txt"
    listed.write_text("\n".join(f"sub/{p.name}" for p in paths))
    assert collect_inputs(listed) == [BatchInput(str(p)) for p in paths]  # no labels: tampered unknown
    outside = tmp_path / "outside"
    write_images(outside, spliced_image, 1)
    (runs / "in" / "sub" / "link.png").symlink_to(outside / "image0.png")
    with pytest.raises(WorkbenchError, match="outside the folders"):
        collect_inputs(runs / "in")
    with pytest.raises(WorkbenchError, match="outside the folders"):
        collect_inputs(outside)


def test_worker_rows_error_rows_and_skips(runs, spliced_image):
    good = write_images(runs / "in", spliced_image, 2)
    bad = runs / "in" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    worker = EngineWorker("classic", None, None, "cpu", {}, torch.get_num_threads(), None)
    items = {"path": np.array([str(p) for p in [*good, bad]]), "tampered": np.array([1, 0, -1]),
             "mask": np.array(["", "", ""])}
    table = worker(items)
    assert table.schema.names[:-1] == SCHEMA.names and table[STATUS].to_pylist() == [DONE] * 3
    first, second, broken = table.to_pylist()
    assert first["tampered"] is True and second["tampered"] is False and broken["tampered"] is None
    assert first["engine"] == "classic" and len(first["sha256"]) == 64 and first["error"] is None
    assert 0.0 <= first["score"] <= 1.0 and first["verdict"]
    assert sum(first["mask_rle"]) == first["width"] * first["height"] == 200 * 160
    assert broken["score"] is None and broken["sha256"] and "broken.jpg" in broken["error"]
    again = EngineWorker("classic", None, None, "cpu", {worker.key: frozenset({first["sha256"]})},
                         torch.get_num_threads(), None)(items)
    assert again[STATUS].to_pylist() == [SKIPPED, DONE, DONE]


def test_newest_row_wins_and_error_rows_are_not_done(tmp_path):
    row = {"path": "a.png", "sha256": "s1", "engine": "classic", "weights_key": "k"}
    writer = PartWriter(tmp_path, rows_per_part=1)
    writer.add(pa.Table.from_pylist([{**row, "error": "unreadable"}], schema=SCHEMA))
    assert done_keys(tmp_path) == {}
    writer.add(pa.Table.from_pylist([{**row, "score": 0.3}], schema=SCHEMA))
    assert done_keys(tmp_path) == {"classic": {"k": frozenset({"s1"})}}
    table = read_table(tmp_path)
    assert table.num_rows == 1 and table["score"].to_pylist() == [0.3]
    assert len(list(rows_folder(tmp_path).glob("part-*.parquet"))) == 2


def test_batch_on_ray_writes_the_table_keeps_errors_and_resumes(runs, spliced_image, local_ray):
    images = write_images(runs / "in", spliced_image, 3)
    (runs / "in" / "broken.png").write_bytes(b"\x89PNG truncated")
    out = runs / "batch"
    request = BatchRequest(tuple(collect_inputs(runs / "in")), ("classic",), out, device="cpu", workers=1, batch_size=2)
    lines = []
    first = run_batch(request, progress=lambda done, total, line: lines.append(line))
    assert (first.rows_written, first.errors, first.skipped) == (4, 1, 0)
    assert lines and "ETA" in lines[-1] and "4/4 rows" in lines[-1]
    written = pq.read_table(rows_folder(out))
    assert written.schema.remove_metadata() == SCHEMA
    by_name = {p.rsplit("/", 1)[-1]: r for p, r in zip(written["path"].to_pylist(), written.to_pylist(), strict=True)}
    assert "broken.png" in by_name["broken.png"]["error"] and by_name["broken.png"]["score"] is None
    assert all(by_name[p.name]["error"] is None and by_name[p.name]["mask_rle"] for p in images)

    write_images(runs / "in", spliced_image, 1, start=3)
    again = run_batch(BatchRequest(tuple(collect_inputs(runs / "in")), ("classic",), out, device="cpu", workers=1,
                                   batch_size=2))
    assert (again.rows_written, again.skipped, again.errors) == (2, 3, 1)  # the new image, the broken one again
    table = read_table(out)
    assert table.num_rows == 5 and sorted(table["path"].to_pylist()) == sorted(
        str(p) for p in [*images, runs / "in" / "broken.png", runs / "in" / "image3.png"])
    assert again.engines["classic"]["rows"] == 5 and again.engines["classic"]["errors"] == 1


def test_evaluate_tab_batch_panel_runs_a_job_and_shows_the_table(runs, spliced_image, local_ray):
    from ui.batch_panel import poll, start_batch
    from ui.jobs import FINISHED, BackgroundJob

    write_images(runs / "in", spliced_image, 2)
    job = BackgroundJob("batch")
    with pytest.raises(gr_error()):
        start_batch(job, str(runs.parent / "elsewhere"), ["classic"], "mine", 1, False)
    start_batch(job, str(runs / "in"), ["classic"], "mine", 1, False)
    snapshot = job.wait(600)
    assert snapshot.state == FINISHED, snapshot.error
    progress, status, rows, summary, _, shown = poll(job, 0)
    assert "value='100.0'" in progress and "2 row(s) written" in status and shown == snapshot.job_id
    assert [row[1] for row in rows] == ["classic", "classic"] and all(row[-1] is None for row in rows)
    assert (runs / "batch" / "mine" / "rows").is_dir() and summary.endswith("summary.json")


def gr_error():
    import gradio as gr

    return gr.Error
