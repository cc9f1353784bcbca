#!/usr/bin/env bash
# Debian's jemalloc (package libjemalloc2), which the training tools start under where the
# system has it (idcg_tf/allocator.py), so that the tests run that path. Installed with apt-get
# when missing, which needs root; nothing is downloaded at test time.
set -euo pipefail
cd "$(dirname "$0")/.."
found() {  # where the training tools look for it (TF-free, so the system Python will do)
    python3 -c 'import sys; sys.path.insert(0, "."); from idcg_tf.allocator import find_jemalloc
sys.exit(find_jemalloc() is None)'
}
if found; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: the tests need Debian's libjemalloc2: sudo apt-get install libjemalloc2" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libjemalloc2 > /dev/null
