"""What every benchmark output records: when, on which code and on which machine.

The bench scripts import this as `common` (Python puts a script's own folder on `sys.path`).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from engines.evaluation.evaluate import git_commit


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_header() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.node()} {platform.machine()}",
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def header_markdown(header: dict[str, Any]) -> str:
    gpu = f", GPU {header['gpu']}" if header["gpu"] else ", no GPU"
    return (f"Date {header['date']} · commit `{header['commit']}` · {header['machine']} · "
            f"{header['cpu']} ({header['cpu_count']} cores, torch {header['torch']} with "
            f"{header['torch_threads']} threads{gpu}) · Python {header['python']}")


def not_available(error: Exception) -> str:
    """How a result that could not be measured (missing weights, unusable engine) is reported."""
    return f"n/a: {error}"


def table_text(text: str) -> str:
    """A message shortened to its first line and made safe inside a markdown table cell."""
    return (text.strip().splitlines() or [""])[0].replace("|", "\\|")


def write_outputs(out: Path, stem: str, payload: dict[str, Any], markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    (out / f"{stem}.md").write_text(markdown + "\n")
