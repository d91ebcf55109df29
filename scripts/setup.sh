#!/usr/bin/env bash
# Sets up .venv with the CPU-only stack (see ../shared/docs/platform.md) and puts the offline
# weights into the model store's cache. Safe to run again: each step is skipped once done.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv

stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    # torch first and pinned: any other spec pulls several GB of CUDA wheels.
    .venv/bin/pip install --quiet torch==2.13.0
    PIP_CONSTRAINT="$PWD/constraints.txt" SAM2_BUILD_CUDA=0 .venv/bin/pip install --quiet -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

.venv/bin/python -m engines weights fetch --offline-set
