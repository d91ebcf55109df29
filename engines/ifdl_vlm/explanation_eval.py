"""Explanation quality on held-out forge samples: cosine semantic similarity (CSS) per section.

As the paper's CSS, with the offline all-MiniLM-L6-v2 (model store `minilm_l6_v2`; mean-pooled,
L2-normalised token embeddings, as its sentence-transformers config says) instead of
all-mpnet-base-v2: each of the five sections of the generated explanation is compared with the
same section of the teacher text (written from the sample's metadata and the evidence measured on
its true mask); a missing section scores 0. The weighted score uses the paper's weights.

Samples are the first `count` of the held-out split both training stages left out. Two settings:
`predicted` (the engine as shipped: stage-1 class and mask feed the evidence and the explainer)
and `oracle` (the same composition given the true class and mask, i.e. stage 2 alone).

Run: `python -m engines.ifdl_vlm.explanation_eval --data DIR [--weights FILE] --json OUT`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.data.datasets import ForgeryDataset, open_dataset
from engines.ifdl_vlm.config import CLASS_NAMES
from engines.ifdl_vlm.data import sample_class, sample_meta
from engines.training.split import held_out_split
from engines.ifdl_vlm.evidence import measure_evidence
from engines.ifdl_vlm.engine import explain_image
from engines.ifdl_vlm.teacher import SECTIONS, split_sections, teacher_text

SECTION_WEIGHTS = dict(zip(SECTIONS, (0.05, 0.35, 0.40, 0.15, 0.05), strict=True))


class SentenceEmbedder:
    def __init__(self, folder: Path) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder)).eval()

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        tokens = self.model(**batch).last_hidden_state
        weights = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def section_similarities(embed: SentenceEmbedder, generated: str, reference: str) -> dict[str, float]:
    ours, theirs = split_sections(generated), split_sections(reference)
    present = [name for name in SECTIONS if ours[name] and theirs[name]]
    scores = {name: 0.0 for name in SECTIONS}
    if present:
        a = embed([ours[name] for name in present])
        b = embed([theirs[name] for name in present])
        for name, value in zip(present, (a * b).sum(-1).tolist(), strict=True):
            scores[name] = float(value)
    return scores


def evaluate_explanations(engine: Any, dataset: ForgeryDataset, count: int, seed: int,
                          embed: SentenceEmbedder, oracle: bool) -> dict[str, Any]:
    model = engine.load()
    _, validation = held_out_split(len(dataset), seed)
    rows = []
    for index in validation[:count]:
        image, mask = dataset.load(index)
        sample = dataset[index]
        truth = measure_evidence(image.rgb, mask, CLASS_NAMES[sample_class(sample)])
        reference = teacher_text(sample_meta(sample), truth)
        if oracle:
            text = explain_image(model, image.rgb, mask, truth["label"], truth)
            region = truth["region"]
        else:
            result = engine.analyze(image)
            text, region = result.text or "", result.evidence["region"]
        scores = section_similarities(embed, text, reference)
        rows.append({"stem": sample.image.stem, "scores": scores,
                     "all_sections": all(split_sections(text).values()),
                     "names_region": None if region is None else region["location"] in text,
                     "text": text, "reference": reference})
        print(f"{len(rows)}/{count} {sample.image.stem} {np.mean(list(scores.values())):.3f}", file=sys.stderr, flush=True)
    per_section = {name: float(np.mean([r["scores"][name] for r in rows])) for name in SECTIONS}
    named = [r["names_region"] for r in rows if r["names_region"] is not None]
    return {
        "setting": "oracle" if oracle else "predicted",
        "samples": len(rows),
        "css": per_section,
        "css_weighted": float(sum(SECTION_WEIGHTS[n] * v for n, v in per_section.items())),
        "all_sections_rate": float(np.mean([r["all_sections"] for r in rows])),
        "names_region_rate": float(np.mean(named)) if named else None,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    from engines.ifdl_vlm.engine import IFDLVLMEngine
    from engines.store.model_store import get_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the training dataset (its held-out split is used)")
    parser.add_argument("--weights", type=Path, default=None, help="default: the shipped compact weights")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="the training seed (fixes the held-out split)")
    parser.add_argument("--settings", nargs="+", default=["predicted", "oracle"], choices=["predicted", "oracle"])
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    engine = IFDLVLMEngine("compact", device="cpu", weights=args.weights)
    embed = SentenceEmbedder(get_store().path("minilm_l6_v2"))
    dataset = open_dataset(args.data)
    results = [evaluate_explanations(engine, dataset, args.count, args.seed, embed, setting == "oracle")
               for setting in args.settings]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(json.dumps([{k: v for k, v in r.items() if k != "rows"} for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
