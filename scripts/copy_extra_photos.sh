#!/usr/bin/env bash
# Rebuilds the extra training photo folders of docs/data.md from git mirrors of their repositories.
# Usage: scripts/copy_extra_photos.sh MIRRORS DEST
#   MIRRORS: folder holding one bare repository per source as <owner>+<name>/repo (what `fetch` brings)
#   DEST:    where the photo folders go, e.g. ~/.cache/forgery-workbench/photos (never inside the repository)
# Each source is pinned to the commit recorded in docs/data.md; exclusions are the non-photographs found by eye.
set -euo pipefail
MIRRORS=${1:?MIRRORS folder}
DEST=${2:?DEST folder}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED_PHOTOS=${FORGERY_SHARED:-$ROOT/../shared}/data/photos
copy() {  # copy SOURCE-NAME OWNER+REPO COMMIT FOLDER [extra options]
  local name=$1 repo=$2 commit=$3 folder=$4
  shift 4
  echo "== $name" >&2
  "$ROOT/.venv/bin/python" "$ROOT/scripts/copy_mirror_photos.py" --git-dir "$MIRRORS/$repo/repo" --commit "$commit" \
    --folder "$folder" --dest "$DEST/$name" --skip-same-bytes-in "$SHARED_PHOTOS" "$@"
}

copy bsds500 BIDS+BSDS500 a04b7c6c3a9f0ace74bf205c72a43d32e1c72722 BSDS500/data/images \
  --skip-stems-in "$SHARED_PHOTOS/cbsd68"
copy metadata-extractor-images drewnoakes+metadata-extractor-images 4beba640487802442bc9931fb01274e908102d3a jpg \
  --exclude 'jpg/FLIR*' --exclude 'jpg/Bushnell*' --exclude 'jpg/Issue 600 *' \
  --exclude 'jpg/ImageTestSuite/316be81dfdeeb942e904feb3a77f4f83.jpg' --exclude 'jpg/Issue 125.jpg' \
  --exclude 'jpg/Issue 173 (dotnet).jpg' --exclude 'jpg/Issue 258 (dotnet).jpg' --exclude 'jpg/Issue 80.jpg' \
  --exclude 'jpg/Panasonic Lumix DMC-LX7.jpg' --exclude 'jpg/Pentax ist D.jpg' --exclude 'jpg/Photoshop (1).jpg' \
  --exclude 'jpg/Photoshop (2).jpg' --exclude 'jpg/Sony DSC-P12.jpg'
copy exif-samples ianare+exif-samples 5332a9cf0220e9c6c93f88a187daa90808051e10 jpg \
  --exclude 'jpg/orientation/*' --exclude 'jpg/tests/67-0_length_string.jpg' --exclude 'jpg/xmp/no_exif.jpg' \
  --skip-same-bytes-in "$DEST/metadata-extractor-images"
copy urban100 majedelhelou+denoising_datasets 58234876fef6f1b56306705c78dfd40cdb837b86 CUrban100
copy unsplash-squeeze SqueezeSoftware+test_files ba32ed75f9788f6004d749bdf6d725975e6dd98c Unsplash/jpg_original \
  --exclude '*/jon-tyson-*' --exclude '*/malena-gonzalez-serena-*' --exclude '*/shefta-shifa-*'
copy polyu-real-noisy csjunxu+PolyU-Real-World-Noisy-Images-Dataset 3af0f2646b267a00446fe4b7113a15e67bc80b4e \
  OriginalImages --exclude '*_mean.JPG'
copy cq100 Ivordir+Okolors 46ea1e2dfbe9567699f251cd5c8084673496af80 img/CQ100/img \
  --exclude '*/astro_bodies.png' --exclude '*/cosmic_vista.png' --exclude '*/color_chart.png' \
  --exclude '*/color_checker.png' --exclude '*/daisy_poster.png' --exclude '*/shopping_bags.png' \
  --exclude '*/tablet.png' --exclude '*/veggies.png' --exclude '*/bosnian_pine_needle.png'
