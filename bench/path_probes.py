"""Path probes against the workbench's confinement: how many were tried, how many refused, and
whether any refusal leaked a file's contents or whether a file exists.

    python bench/path_probes.py --out runs/bench/path_probes

Everything happens in a scratch folder that stands in for the runs, shared and upload folders
(FORGERY_RUNS, FORGERY_SHARED, GRADIO_TEMP_DIR point there; no data roots), so nothing real is
written. Three groups, each through the function the app and the CLI use:
- dataset lists (`engines.data.datasets.open_dataset`): one hostile entry in an index.json, a .txt,
  .csv and .lst list of a dataset in the upload folder, as an upload through the app would be:
  traversal, absolute and home paths, project files, links out, device and proc files, Windows
  separators, NUL bytes, secrets-looking lines, and a deeply nested index;
- typed input paths (`engines.data.paths.check_input_dir`, with the app's upload folder allowed);
- typed output folders (`engines.data.paths.check_output_dir`: Train, forge and evaluation outputs).
Three controls (a list of its own folder's images, a typed path in the upload folder, an output
folder under runs) must be accepted, so that refusing everything would not pass. A probe counts as refused when a WorkbenchError is raised; a refusal leaks when its message
contains the secret written in the probe files or a line of /etc/passwd, or when it differs for
an existing and a missing file at the same place.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import header_markdown, run_header, table_text, write_outputs
from engines.data.datasets import open_dataset
from engines.errors import WorkbenchError
from engines.data.paths import check_input_dir, check_output_dir
from engines.settings import PROJECT_ROOT, get_settings
from engines.data.synthetic import spliced_scene

SECRET = "db_password=hunter2-probe"
LIST_FORMATS = ("index.json", "list.txt", "list.csv", "list.lst")


def passwd_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/passwd").read_text().splitlines() if len(line) > 8]
    except OSError:
        return []


def write_image(path: Path) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    rgb, _ = spliced_scene(0, 64, 64)
    cv2.imwrite(str(path), rgb[..., ::-1])
    return path


def list_text(kind: str, image: str, mask: str) -> str:
    rows = [("tampered/t0.jpg", "masks/t0.png"), (image, mask)]
    if kind == "index.json":
        return json.dumps([list(row) for row in rows])
    separator = "," if kind == "list.csv" else " "
    return "\n".join(separator.join(f'"{v}"' if separator == "," and ("," in v or " " in v) else v for v in row)
                     for row in rows)


def entry_probes(scratch: Path) -> dict[str, tuple[str, str]]:
    """name -> (image entry, mask entry) of the hostile line; files the probes aim at are made."""
    private = write_image(scratch / "private" / "t0.jpg")
    (scratch / "private" / "secrets.txt").write_text(f"{SECRET}\n")
    project_image = PROJECT_ROOT / "assets" / "examples" / "spliced.jpg"
    return {
        "traversal to /etc/passwd": ("../../../../../../../../etc/passwd", "Negative"),
        "traversal to /etc/shadow": ("../../../../../../../../etc/shadow", "Negative"),
        "absolute /etc/passwd": ("/etc/passwd", "Negative"),
        "absolute /root/.bashrc": ("/root/.bashrc", "Negative"),
        "absolute /proc/self/environ": ("/proc/self/environ", "Negative"),
        "absolute /dev/zero as .png": ("/dev/zero.png", "Negative"),
        "home ~/.ssh/id_rsa": ("~/.ssh/id_rsa", "Negative"),
        "home ~/.bashrc": ("~/.bashrc", "Negative"),
        "project pyproject.toml": (str(PROJECT_ROOT / "pyproject.toml"), "Negative"),
        "project image (absolute)": (str(project_image), "Negative"),
        "image outside by traversal": ("../../private/t0.jpg", "Negative"),
        "missing image outside by traversal": ("../../private/t9.jpg", "Negative"),
        "image outside, absolute": (str(private), "Negative"),
        "missing image outside, absolute": (str(private.with_name("t9.jpg")), "Negative"),
        "image outside via ~/..": ("~/../../" + str(private).lstrip("/"), "Negative"),
        "mask outside by traversal": ("tampered/t0.jpg", "../../private/t0.jpg"),
        "mask /etc/passwd": ("tampered/t0.jpg", "/etc/passwd"),
        "secrets file outside": (str(scratch / "private" / "secrets.txt"), "Negative"),
        "windows separators": ("..\\..\\..\\etc\\passwd", "Negative"),
        "url": ("file:///etc/passwd", "Negative"),
        "link out to an image": ("tampered/link_out.jpg", "Negative"),
        "link out to /etc/passwd named .png": ("tampered/passwd_link.png", "Negative"),
        "link out to /dev/zero named .jpg": ("tampered/zero_link.jpg", "Negative"),
        "nul byte": ("tampered/t0.jpg\x00../../etc/passwd", "Negative"),
    }


def dataset_in_uploads(uploads: Path, name: str, outside_image: Path) -> Path:
    folder = uploads / name
    write_image(folder / "tampered" / "t0.jpg")
    write_image(folder / "masks" / "t0.png")
    (folder / "tampered" / "link_out.jpg").symlink_to(outside_image)
    (folder / "tampered" / "passwd_link.png").symlink_to("/etc/passwd")
    (folder / "tampered" / "zero_link.jpg").symlink_to("/dev/zero")
    return folder


def probe(kind: str, name: str, attempt: Callable[[], Any]) -> dict[str, Any]:
    try:
        attempt()
    except WorkbenchError as error:
        return {"group": kind, "probe": name, "refused": True, "message": str(error)}
    except ValueError as error:  # e.g. a NUL byte in a path: refused by the OS layer, not by us
        return {"group": kind, "probe": name, "refused": True, "message": f"{type(error).__name__}: {error}"}
    return {"group": kind, "probe": name, "refused": False, "message": ""}


def dataset_probes(scratch: Path, uploads: Path) -> list[dict[str, Any]]:
    results = []
    entries = entry_probes(scratch)
    for number, (name, (image, mask)) in enumerate(entries.items()):
        folder = dataset_in_uploads(uploads, f"upload{number}", scratch / "private" / "t0.jpg")
        for kind in LIST_FORMATS:
            listed = folder / kind
            try:
                listed.write_text(list_text(kind, image, mask))
            except ValueError:
                continue
            results.append(probe("dataset list", f"{name} ({kind})", lambda listed=listed: open_dataset(listed)))
    secrets = uploads / "secrets"
    secrets.mkdir()
    for kind in ("txt", "csv", "lst", "json"):
        listed = secrets / f"notes.{kind}"
        listed.write_text(f"{SECRET}\napi_key=0123456789abcdef\n")
        results.append(probe("dataset list", f"secrets-looking .{kind} as a list",
                             lambda listed=listed: open_dataset(listed)))
    deep = uploads / "deep"
    deep.mkdir()
    (deep / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    results.append(probe("dataset list", "index nested 100,000 deep", lambda: open_dataset(deep / "index.json")))
    return results


def typed_input_probes(scratch: Path, uploads: Path) -> list[dict[str, Any]]:
    runs = get_settings().runs_dir
    (runs / "link_to_etc").symlink_to("/etc")
    (runs / "link_to_home").symlink_to(Path.home())
    typed = ["/", "/tmp", "~", "/etc", "/etc/passwd", "/root", "/proc/self", str(PROJECT_ROOT),
             str(runs / ".." / ".." / ".."), str(runs / "link_to_etc"), str(runs / "link_to_etc" / "passwd"),
             str(runs / "link_to_home"), str(uploads / ".." / ".."), str(scratch / "private")]
    return [probe("typed input path", text, lambda text=text: check_input_dir(text, allow_file=True,
                                                                           extra_roots=[uploads]))
            for text in typed]


def typed_output_probes(scratch: Path, uploads: Path) -> list[dict[str, Any]]:
    runs = get_settings().runs_dir
    (runs / "link_to_tmp").symlink_to(tempfile.gettempdir())
    shared_data = get_settings().shared_dir / "data" / "benchmarks"
    typed = ["~/.config/evil-run", "~/evil-run", "/tmp/evil-run", "/etc/evil-run", str(shared_data / "run"),
             str(get_settings().shared_dir / "run"), str(uploads / "run"), str(runs / ".." / "evil-run"),
             str(runs / "link_to_tmp" / "evil-run"), str(PROJECT_ROOT / "engines" / "evil-run")]
    return [probe("typed output folder", text, lambda text=text: check_output_dir(text)) for text in typed]


def control_probes(scratch: Path, uploads: Path) -> list[dict[str, Any]]:
    """What must still work (so that refusing everything would not pass): a list inside its own
    upload folder, a typed path there, and an output folder under runs."""
    folder = dataset_in_uploads(uploads, "control", scratch / "private" / "t0.jpg")
    (folder / "index.json").write_text(list_text("index.json", "tampered/t0.jpg", "masks/t0.png"))
    return [probe("control", "a list of its own folder's images", lambda: open_dataset(folder / "index.json")),
            probe("control", "a typed path in the upload folder",
                  lambda: check_input_dir(folder / "index.json", allow_file=True, extra_roots=[uploads])),
            probe("control", "an output folder under runs",
                  lambda: check_output_dir(get_settings().runs_dir / "evaluations" / "new"))]


def leaks(results: list[dict[str, Any]]) -> list[str]:
    secrets = [SECRET, "api_key=", *passwd_lines()]
    leaked = [r["probe"] for r in results if any(s in r["message"] for s in secrets)]
    by_probe = {r["probe"]: re.sub(r"upload\d+", "upload", r["message"]) for r in results}
    for name, message in by_probe.items():
        if name.startswith("missing "):
            existing = by_probe.get(name.removeprefix("missing "))
            if existing is not None and existing.replace("t0.jpg", "t9.jpg") != message:
                leaked.append(f"{name}: says whether the file exists")
    return leaked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench/path_probes"))
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="path-probes-") as folder:
        scratch = Path(folder)
        uploads = scratch / "gradio"
        for variable, path in (("FORGERY_RUNS", scratch / "runs"), ("FORGERY_SHARED", scratch / "shared"),
                               ("GRADIO_TEMP_DIR", uploads)):
            path.mkdir(parents=True)
            os.environ[variable] = str(path)
        os.environ.pop("FORGERY_DATA_ROOTS", None)
        get_settings.cache_clear()
        results = (dataset_probes(scratch, uploads) + typed_input_probes(scratch, uploads)
                   + typed_output_probes(scratch, uploads))
        controls = control_probes(scratch, uploads)
    leaked = leaks(results)
    groups = list(dict.fromkeys(r["group"] for r in results))
    lines = ["| group | tried | refused | accepted |", "|---|---|---|---|"]
    for group in groups:
        rows = [r for r in results if r["group"] == group]
        accepted = ", ".join(r["probe"] for r in rows if not r["refused"]) or "—"
        lines.append(f"| {group} | {len(rows)} | {sum(r['refused'] for r in rows)} | {table_text(accepted)} |")
    total = f"{len(results)} probes, {sum(r['refused'] for r in results)} refused, {len(leaked)} leaks" + (
        f" ({'; '.join(leaked)})" if leaked else "")
    accepted_controls = sum(not r["refused"] for r in controls)
    total += f"; controls accepted {accepted_controls} of {len(controls)}"
    header = run_header()
    write_outputs(out, "path_probes", {**header, "results": results, "controls": controls, "leaks": leaked},
                  f"{header_markdown(header)}\n\n{total}\n\n" + "\n".join(lines))
    print(total)
    print("\n".join(lines))
    return 0 if not leaked and all(r["refused"] for r in results) and accepted_controls == len(controls) else 1


if __name__ == "__main__":
    sys.exit(main())
