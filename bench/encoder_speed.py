"""TinyViT encoder cost and fidelity by numeric variant: fp32, int8, bf16, channels-last, compile.

The encoder as compact Detective SAM runs it: LiteMedSAM's TinyViT, `forward_features` of one batch
of three streams (a real photo and its two perturbed copies), at each `--sizes` input side and each
`--threads` count. A variant is a `+`-joined list of changes to the fp32 encoder:
  int8          dynamic int8 quantisation of the Linear layers (torch.ao `quantize_dynamic`);
  channels_last the encoder and its input in channels-last memory format;
  bf16          CPU autocast to bfloat16 (features returned as float32);
  compile       `torch.compile` (default inductor backend; the first call, which compiles, is timed
                apart as `compile_seconds`).
Every variant is timed in every round, in an order rotated from round to round, so that other load
on the machine falls on all of them alike; seconds are medians over `--rounds`, after one warm-up
call. Wall seconds and this process's CPU seconds are both recorded: on a shared machine the CPU
seconds are the steadier figure.

Fidelity, from one call per photo outside the timing: for each of `--photos` shared photos, each
stream and each scale Detective SAM reads (embed, stage1, stage2), the cosine similarity of the
variant's features with fp32's (flattened per image); the table gives the minimum. With
`--heatmaps`, the shipped compact Detective SAM (128 px) analyses the example images with each
variant's features: the mean absolute difference of its heatmap from fp32's, and the pixel F1 of
its mask against fp32's mask, both at the model's 128-px output and the engine's threshold.

    nice -n 10 python bench/encoder_speed.py --sizes 128 192 256 --threads 2 1 --rounds 3 \\
        --heatmaps --out runs/bench/encoder_speed
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common import header_markdown, run_header, write_outputs
from engines.backbones.lite_medsam import LiteMedSAMConfig
from engines.backbones.tiny_vit import TinyViTConfig
from engines.catalog import engine_class
from engines.data.imageio import load_image
from engines.detective_sam.build import build_detective_sam
from engines.detective_sam.config import COMPACT
from engines.detective_sam.model import DetectiveSAM, feature_name
from engines.detective_sam.preprocess import prepare_streams
from engines.evaluation.metrics import pixel_scores
from engines.settings import get_settings
from engines.store.model_store import get_store

CHANGES = ("int8", "channels_last", "bf16", "compile")
EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"
Features = dict[str, torch.Tensor]


def make_variant(name: str, encoder: nn.Module) -> Callable[[torch.Tensor], Features]:
    """`forward_features` of a copy of the fp32 `encoder` with the changes `name` lists."""
    changes = [] if name == "fp32" else name.split("+")
    unknown = [change for change in changes if change not in CHANGES]
    if unknown:
        raise SystemExit(f"Unknown change {unknown[0]!r} in variant {name!r}; use fp32 or {'+'.join(CHANGES)} parts.")
    model = copy.deepcopy(encoder).eval()
    if "int8" in changes:
        model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    layout = torch.channels_last if "channels_last" in changes else torch.contiguous_format
    model = model.to(memory_format=layout)
    bf16 = "bf16" in changes

    def run(images: torch.Tensor) -> Features:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            features = model.forward_features(images.contiguous(memory_format=layout))
        return {key: value.float().contiguous() for key, value in features.items()}

    return torch.compile(run) if "compile" in changes else run


def compact_at(size: int) -> DetectiveSAM:
    """Compact Detective SAM with LiteMedSAM's pretrained encoder at `size` px (adapters random:
    only its encoder and its stream preparation are used here)."""
    config = replace(COMPACT, input_size=size, lite_medsam=LiteMedSAMConfig(encoder=TinyViTConfig(image_size=size)))
    return build_detective_sam(config, backbone_checkpoint=get_store().path("lite_medsam"))


def stream_batch(model: DetectiveSAM, rgb: np.ndarray) -> torch.Tensor:
    """The (3, 3, S, S) encoder input Detective SAM makes of one image (its pixel mean/std are 0/1)."""
    streams, _ = prepare_streams(model, rgb)
    batch = torch.cat([streams[name] for name in model.config.streams])
    return (batch - model.pixel_mean) / model.pixel_std


def shared_photos(count: int) -> list[Path]:
    """`count` photos spread over the shared photo folders (sorted, evenly spaced)."""
    photos = sorted(p for p in get_settings().photos_dir.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not photos:
        raise SystemExit(f"No photos under {get_settings().photos_dir}.")
    return [photos[i * len(photos) // count] for i in range(count)]


def timed(run: Callable[[torch.Tensor], Features], batch: torch.Tensor) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        run(batch)
    return time.perf_counter() - wall, time.process_time() - cpu


def min_cosine(reference: Features, other: Features, scales: tuple[str, ...]) -> float:
    return min(float(F.cosine_similarity(reference[s].flatten(1), other[s].flatten(1)).min()) for s in scales)


def measure_speed(args: argparse.Namespace, report: Callable[[list[dict[str, Any]], list[float]], None]) -> None:
    """Timing and fidelity rows (variant × size × threads) and the load averages seen, passed to
    `report` after every round (so that a run cut short still leaves its finished rounds)."""
    photos = [load_image(path).rgb for path in shared_photos(args.photos)]
    variants: dict[int, dict[str, Callable]] = {}
    batches: dict[int, torch.Tensor] = {}
    rows: dict[tuple[str, int, int], dict[str, Any]] = {}
    for size in args.sizes:
        model = compact_at(size)
        scales = model.config.tiny_vit_scales
        batches[size] = stream_batch(model, photos[0])
        variants[size] = {name: make_variant(name, model.encoder) for name in args.variants}
        inputs = [stream_batch(model, rgb) for rgb in photos]
        with torch.inference_mode():
            reference = [variants[size]["fp32"](batch) for batch in inputs]
        for name, run in variants[size].items():
            first_call, _ = timed(run, batches[size])  # the warm-up; compiles, for "compile"
            with torch.inference_mode():
                cosine = min(min_cosine(ref, run(batch), scales) for ref, batch in zip(reference, inputs))
            for threads in args.threads:
                rows[name, size, threads] = {"variant": name, "size": size, "threads": threads, "wall": [], "cpu": [],
                                             "min_cosine": round(cosine, 5),
                                             "first_call_seconds": round(first_call, 2)}
        print(f"{size} px: variants built, fidelity measured", flush=True)
    loads = [round(os.getloadavg()[0], 2)]
    for round_index in range(args.rounds):
        order = args.variants[round_index % len(args.variants):] + args.variants[:round_index % len(args.variants)]
        for size in args.sizes:
            for threads in args.threads:
                torch.set_num_threads(threads)
                for name in order:
                    wall, cpu = timed(variants[size][name], batches[size])
                    rows[name, size, threads]["wall"].append(wall)
                    rows[name, size, threads]["cpu"].append(cpu)
        loads.append(round(os.getloadavg()[0], 2))
        print(f"round {round_index + 1}/{args.rounds} done, load average {loads[-1]:.2f}", flush=True)
        report(summarised(rows), loads)


def summarised(rows: dict[tuple[str, int, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their medians and their speed-ups over fp32 at the same size and threads."""
    for row in rows.values():
        row["rounds"] = len(row["wall"])
        row["wall_median"] = round(statistics.median(row["wall"]), 3)
        row["cpu_median"] = round(statistics.median(row["cpu"]), 3)
    for row in rows.values():
        base = rows["fp32", row["size"], row["threads"]]
        row["speedup_wall"] = round(base["wall_median"] / row["wall_median"], 2)
        row["speedup_cpu"] = round(base["cpu_median"] / row["cpu_median"], 2)
    return list(rows.values())


def measure_heatmaps(variant_names: list[str]) -> list[dict[str, Any]]:
    """Shipped compact Detective SAM's heatmap with each variant's features against fp32's."""
    engine = engine_class("detective_sam")(profile="compact")
    model: DetectiveSAM = engine.load()
    threshold = engine.pixel_threshold
    encoder, streams = model.encoder, model.config.streams
    rows = []
    for path in sorted(EXAMPLES.glob("*.jpg")):
        batch = stream_batch(model, load_image(path).rgb)
        heatmaps = {}
        for name in variant_names:
            with torch.inference_mode():
                pyramid = make_variant(name, encoder)(batch)
                features = {feature_name(stream, scale): pyramid[level].chunk(len(streams))[index]
                            for scale, level in enumerate(model.config.tiny_vit_scales)
                            for index, stream in enumerate(streams)}
                heatmaps[name] = torch.sigmoid(model.forward_from_features(features))[0, 0].numpy()
        reference = heatmaps["fp32"]
        for name, heatmap in heatmaps.items():
            rows.append({"image": path.name, "variant": name, "threshold": threshold,
                         "mask_fraction": round(float((heatmap > threshold).mean()), 4),
                         "mean_abs_difference": round(float(np.abs(heatmap - reference).mean()), 5),
                         "f1_vs_fp32": round(pixel_scores(heatmap, reference > threshold, threshold)["f1"], 4)})
    return rows


def markdown(header: dict[str, Any], rows: list[dict[str, Any]], loads: list[float],
             heatmaps: list[dict[str, Any]]) -> str:
    lines = [header_markdown(header), "",
             f"Load average (1 min) at the start and after each round: {loads}", "",
             "| variant | input px | threads | wall s (median) | speed-up (wall) | CPU s (median) | "
             "speed-up (CPU) | min cosine vs fp32 | first call s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["size"], -r["threads"])):
        lines.append(f"| {row['variant']} | {row['size']} | {row['threads']} | {row['wall_median']:.2f} | "
                     f"{row['speedup_wall']:.2f} | {row['cpu_median']:.2f} | {row['speedup_cpu']:.2f} | "
                     f"{row['min_cosine']:.4f} | {row['first_call_seconds']:.1f} |")
    if heatmaps:
        lines += ["", "| image | variant | mask fraction | mean abs heatmap difference vs fp32 | mask F1 vs fp32 |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['image']} | {r['variant']} | {r['mask_fraction']:.4f} | {r['mean_abs_difference']:.5f} | "
                  f"{r['f1_vs_fp32']:.4f} |" for r in heatmaps]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 192, 256])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--variants", nargs="+", default=["fp32", "int8", "bf16", "channels_last"],
                        help=f"fp32, or '+'-joined changes from {', '.join(CHANGES)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--heatmaps", action="store_true", help="also compare the shipped engine's heatmaps (128 px)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/encoder_speed"))
    args = parser.parse_args()
    if "fp32" not in args.variants:
        args.variants.insert(0, "fp32")
    torch.set_num_threads(args.threads[0])
    header = run_header()
    heatmaps = measure_heatmaps(args.variants) if args.heatmaps else []

    def report(rows: list[dict[str, Any]], loads: list[float]) -> None:
        text = markdown(header, rows, loads, heatmaps)
        print(text, flush=True)
        write_outputs(args.out, "encoder_speed", {"header": header, "arguments": vars(args) | {"out": str(args.out)},
                                                  "rows": rows, "load_average_1min": loads, "heatmaps": heatmaps}, text)

    measure_speed(args, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
