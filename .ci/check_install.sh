#!/usr/bin/env bash
# `make check-install`: `python -m pip install .` (not editable) of this tree into a fresh venv,
# then the console scripts from another folder, so that nothing comes from the clone's idcg_tf/
# or configs/: the package, its shipped configs and its entry points must be in what pip built.
# The tree is copied first: setuptools' build/ folder keeps files the tree no longer has.
# Downloads the dependencies (about 600 MB) unless pip's cache has them; a few minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unset PYTHONPATH

mkdir "$tmp/src" "$tmp/elsewhere"
(cd "$root" && git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf -) | tar -xf - -C "$tmp/src"
"$python" -m venv "$tmp/venv"
(cd "$tmp/src" && "$tmp/venv/bin/python" -m pip install --quiet .)

cd "$tmp/elsewhere"
bin="$tmp/venv/bin"
"$bin/python" - "$tmp/venv" <<'PY'
import sys
from pathlib import Path

import idcg_tf

where = Path(idcg_tf.__file__).resolve()
assert Path(sys.argv[1]).resolve() in where.parents, f"idcg_tf imported from {where}"
PY
"$bin/idcg-train" --config tiny --dry-run > train.txt
grep -q "^# resolved config (.*site-packages/idcg_tf/configs/tiny.yaml); workdir runs/tiny" \
    train.txt
grep -q "^G_Y" train.txt
for tool in train prepare evaluate export translate generate benchmark compare gpu-check app; do
    "$bin/idcg-$tool" --help > "help-$tool.txt"
done
status=0
"$bin/idcg-train" --config no_such_config 2> error.txt || status=$?
[ "$status" = 2 ] && [ "$(wc -l < error.txt)" = 1 ]
# Without the app extra, idcg-app says what to install, in one line.
status=0
"$bin/idcg-app" --model nowhere 2> app-error.txt || status=$?
[ "$status" = 2 ] && [ "$(wc -l < app-error.txt)" = 1 ] && grep -q "idcg-tf\[app\]" app-error.txt
echo "check-install: ok (pip install . into a fresh venv; idcg-train --config tiny --dry-run," \
    "every idcg-* --help and idcg-app's missing-extra line ran from $tmp/elsewhere)"
