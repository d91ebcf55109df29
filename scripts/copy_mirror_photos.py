"""Copies real photographs out of a git mirror (a bare repository) into a photo folder, bytes unchanged.

Used to build the extra training photo folders listed in docs/data.md, e.g.

    .venv/bin/python scripts/copy_mirror_photos.py --git-dir /work/.mirror/BIDS+BSDS500/repo \\
        --commit a04b7c6c3a9f0ace74bf205c72a43d32e1c72722 --folder BSDS500/data/images \\
        --dest ~/.cache/forgery-workbench/photos/bsds500 --skip-stems-in ../shared/data/photos/cbsd68

A file is kept when Pillow decodes it whole (truncated test files are left out), its short side is
at least --min-side and it is at most --max-mb; --exclude, --skip-stems-in and --skip-same-bytes-in
leave out non-photographs and images another folder already holds. Files that a snapshot lists but does not hold (large blobs) are reported, not copied.
Paths below --folder are kept, so files of the same name in different subfolders never collide.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import subprocess
import sys
from collections import Counter
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from engines.forge.photos import PHOTO_SUFFIXES


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def _blobs(git_dir: Path, commit: str, folder: str) -> list[tuple[str, str]]:
    """(object id, path) of every file under `folder` at `commit`."""
    listing = _git(git_dir, "ls-tree", "-r", "-z", commit, "--", folder or ".").decode("utf-8").split("\0")
    entries = []
    for entry in filter(None, listing):
        meta, path = entry.split("\t", 1)
        _, kind, object_id = meta.split()
        if kind == "blob":
            entries.append((object_id, path))
    return entries


def _blob_bytes(git_dir: Path, object_id: str) -> bytes | None:
    result = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "blob", object_id], capture_output=True)
    return result.stdout if result.returncode == 0 else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", type=Path, required=True, help="bare repository brought by fetch")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--folder", required=True, help="folder inside the repository ('.' for all of it)")
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--exclude", action="append", default=[], help="fnmatch pattern on the repository path")
    parser.add_argument("--skip-stems-in", type=Path, action="append", default=[],
                        help="skip files whose name without suffix is already in this folder (same image, other format)")
    parser.add_argument("--skip-same-bytes-in", type=Path, action="append", default=[],
                        help="skip files identical to one already in this folder (another source had it)")
    parser.add_argument("--min-side", type=int, default=320)
    parser.add_argument("--max-mb", type=float, default=25.0)
    parser.add_argument("--dry-run", action="store_true", help="list what would be copied, write nothing")
    args = parser.parse_args(argv)

    git_dir = args.git_dir.expanduser()
    if not (git_dir / "HEAD").is_file():
        parser.error(f"{git_dir} is not a git directory")
    known_stems = {p.stem for folder in args.skip_stems_in for p in folder.expanduser().rglob("*") if p.is_file()}
    known_digests = {_digest(p.read_bytes()) for folder in args.skip_same_bytes_in
                     for p in folder.expanduser().rglob("*") if p.is_file()}
    folder = args.folder.strip("/").removeprefix(".")
    skipped: Counter[str] = Counter()
    kept: list[tuple[str, int, tuple[int, int], str]] = []
    try:
        blobs = _blobs(git_dir, args.commit, folder)
    except subprocess.CalledProcessError as error:
        parser.error(f"cannot list {folder or '.'} at {args.commit} in {git_dir}: {error.stderr.decode().strip()}")
    for object_id, path in blobs:
        name = Path(path)
        if name.suffix.lower() not in PHOTO_SUFFIXES:
            skipped["not an image suffix"] += 1
        elif any(fnmatch.fnmatch(path, pattern) for pattern in args.exclude):
            skipped["excluded"] += 1
        elif name.stem in known_stems:
            skipped["already in a --skip-stems-in folder"] += 1
        elif (data := _blob_bytes(git_dir, object_id)) is None:
            skipped["listed but not in the snapshot"] += 1
        elif len(data) > args.max_mb * 1e6:
            skipped[f"over {args.max_mb} MB"] += 1
        elif (digest := _digest(data)) in known_digests:
            skipped["same bytes as a file already kept"] += 1
        else:
            try:
                with Image.open(io.BytesIO(data)) as image:
                    size, image_format = image.size, image.format
                    image.load()
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError, KeyError, IndexError):
                skipped["unreadable"] += 1
                continue
            if min(size) < args.min_side:
                skipped[f"short side under {args.min_side} px"] += 1
                continue
            known_digests.add(digest)
            relative = path[len(folder):].lstrip("/")
            kept.append((relative, len(data), size, image_format))
            if args.dry_run:
                print(f"{relative}\t{size[0]}x{size[1]}\t{image_format}\t{len(data)}")
            else:
                target = args.dest.expanduser() / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    for reason, count in sorted(skipped.items()):
        print(f"skipped ({reason}): {count}", file=sys.stderr)
    if kept:
        sides = [side for _, _, size, _ in kept for side in size]
        megabytes = [n / 1e6 for _, n, _, _ in kept]
        formats = Counter(fmt for *_, fmt in kept)
        print(f"{'would copy' if args.dry_run else 'copied'} {len(kept)} files, {sum(megabytes):.1f} MB "
              f"({min(megabytes):.2f}-{max(megabytes):.2f} MB each), sides {min(sides)}-{max(sides)} px, "
              f"formats {dict(formats)}", file=sys.stderr)
    else:
        print("nothing to copy", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
