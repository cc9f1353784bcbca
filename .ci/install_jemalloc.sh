#!/usr/bin/env bash
# Debian's jemalloc (package libjemalloc2), which the training tools start under where the
# system has it (idcg_tf/allocator.py), so that the tests run that path. Installed with apt-get
# when missing, which needs root; nothing is downloaded at test time.
set -euo pipefail
if [ -f /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] || [ -f /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: the tests need Debian's libjemalloc2: sudo apt-get install libjemalloc2" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libjemalloc2 > /dev/null
