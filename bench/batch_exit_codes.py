"""Exit codes of the command line's batch cases, each run as a real `python -m engines` process.

    python bench/batch_exit_codes.py --out runs/bench/batch_exit_codes

The cases (made in a scratch folder from `engines.data.synthetic` scenes and the bundled example) are
the ones issue 19 found wrong: `analyze` with an image the engine refuses before a good one,
`evaluate` with 6 of 10 masks the wrong size (with and without `--max-failed`), a deeply nested
index, a list naming files outside its folder, and an unknown engine; plus the clean cases.
Expected: 0 all done, 1 some images failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from common import header_markdown, run_header, table_text, write_outputs
from engines.reports.render import mask_image
from engines.settings import PROJECT_ROOT, get_settings
from engines.data.synthetic import procedural_scene, spliced_scene

GOOD = get_settings().assets_dir / "examples" / "spliced.jpg"


def write_dataset(folder: Path, n_tampered: int, n_authentic: int, wrong_masks: int = 0) -> Path:
    """An IMDL-BenCo folder of 128×96 scenes; the first `wrong_masks` masks are 10×10."""
    entries = []
    for i in range(n_tampered):
        rgb, mask = spliced_scene(i, 96, 128)
        (folder / "tampered").mkdir(parents=True, exist_ok=True)
        (folder / "masks").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / "tampered" / f"t{i}.jpg"), rgb[..., ::-1])
        cv2.imwrite(str(folder / "masks" / f"t{i}.png"), np.zeros((10, 10), np.uint8) if i < wrong_masks
                    else mask_image(mask))
        entries.append([f"tampered/t{i}.jpg", f"masks/t{i}.png"])
    for i in range(n_authentic):
        (folder / "authentic").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / "authentic" / f"a{i}.jpg"), procedural_scene(100 + i, 96, 128)[..., ::-1])
        entries.append([f"authentic/a{i}.jpg", "Negative"])
    (folder / "index.json").write_text(json.dumps(entries))
    return folder


def cases(scratch: Path) -> list[tuple[str, list[str], int]]:
    """(what, CLI arguments, expected exit code)."""
    tiny = scratch / "tiny.png"
    cv2.imwrite(str(tiny), np.full((4, 4, 3), 128, np.uint8))
    unreadable = scratch / "notes.jpg"
    unreadable.write_text("not an image")
    clean = write_dataset(scratch / "clean", 4, 1)
    wrong = write_dataset(scratch / "wrong", 10, 0, wrong_masks=6)
    deep = scratch / "deep"
    deep.mkdir()
    (deep / "index.json").write_text("[" * 50_000 + "]" * 50_000)
    escaping = scratch / "escaping.txt"
    escaping.write_text("../../../../../../etc/passwd.png None\n")
    out = str(scratch / "out")
    evaluate = ["evaluate", "--engine", "classic", "--json", str(scratch / "metrics.json"), "--dataset"]
    return [
        ("analyze: one good image", ["analyze", str(GOOD), "--engine", "classic", "--out", out], 0),
        ("analyze: refused (4×4) image, good image, unreadable file", [
            "analyze", str(tiny), str(GOOD), str(unreadable), "--engine", "classic", "--out", out], 1),
        ("evaluate: clean dataset (4 tampered, 1 authentic)", [*evaluate, str(clean)], 0),
        ("evaluate: 6 of 10 masks the wrong size", [*evaluate, str(wrong)], 1),
        ("evaluate: 6 of 10 masks the wrong size, --max-failed 0.6", [*evaluate, str(wrong), "--max-failed", "0.6"], 0),
        ("evaluate: index nested 50,000 deep", [*evaluate, str(deep)], 2),
        ("evaluate: list naming ../../etc/passwd.png", [*evaluate, str(escaping)], 2),
        ("analyze: unknown engine", ["analyze", str(GOOD), "--engine", "clasic", "--out", out], 2),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench/batch_exit_codes"))
    args = parser.parse_args()
    out = args.out.resolve()
    rows = []
    with tempfile.TemporaryDirectory(prefix="batch-cases-") as folder:
        for what, arguments, expected in cases(Path(folder)):
            command = [sys.executable, "-m", "engines", *arguments]
            done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900)
            last = (done.stderr.strip().splitlines() or [""])[-1].replace(folder, "<scratch>")
            rows.append({"case": what, "command": "python -m engines " + shlex.join(arguments).replace(folder, "<scratch>"),
                         "exit": done.returncode, "expected": expected, "last_stderr_line": last})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    lines = ["| case | exit code (expected) | last line on stderr |", "|---|---|---|"]
    lines += [f"| {r['case']} | {r['exit']} ({r['expected']}) | {table_text(r['last_stderr_line'])} |" for r in rows]
    header = run_header()
    write_outputs(out, "batch_exit_codes", {**header, "rows": rows},
                  f"{header_markdown(header)}\n\n" + "\n".join(lines))
    print("\n".join(lines))
    return 0 if all(r["exit"] == r["expected"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
