"""Releasing TensorFlow's import-only library pages: what is dropped, and that TF runs after."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from idcg_tf import memory

SMAPS = """\
7f0000000000-7f0000100000 r--p 00000000 08:01 11 /venv/tensorflow/libtensorflow_cc.so.2
Rss:                 512 kB
Anonymous:             0 kB
Locked:                0 kB
7f0000100000-7f0000200000 r-xp 00100000 08:01 11 /venv/tensorflow/libtensorflow_cc.so.2
Rss:                 256 kB
Anonymous:             0 kB
Locked:                0 kB
7f0000200000-7f0000210000 r--p 00200000 08:01 11 /venv/tensorflow/libtensorflow_cc.so.2
Rss:                  64 kB
Anonymous:            64 kB
Locked:                0 kB
7f0000210000-7f0000220000 rw-p 00210000 08:01 11 /venv/tensorflow/libtensorflow_cc.so.2
Rss:                  64 kB
Anonymous:            64 kB
7f0000300000-7f0000400000 r-xp 00000000 08:01 12 /usr/lib/libc.so.6
Rss:                 128 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r--s 00000000 08:01 13 /venv/tensorflow/shared.bin
Rss:                 128 kB
Anonymous:             0 kB
7f0000500000-7f0000600000 rw-p 00000000 00:00 0
Rss:                1024 kB
Anonymous:          1024 kB
7f0000600000-7f0000700000 r-xp 00000000 08:01 14 /venv/tensorflow-extra/lib.so
Rss:                  64 kB
Anonymous:             0 kB
"""


def test_only_read_only_unwritten_mappings_of_the_directory_are_released():
    kept = [
        (hex(start), perms, path)
        for start, _, perms, path, fields in memory._mappings(SMAPS)
        if memory.releasable(perms, path, fields, "/venv/tensorflow")
    ]
    # Text and read-only data: yes. The relocated (copy-on-write) read-only segment, the
    # writable one, other libraries, shared mappings, anonymous memory, a sibling folder: no.
    assert kept == [
        ("0x7f0000000000", "r--p", "/venv/tensorflow/libtensorflow_cc.so.2"),
        ("0x7f0000100000", "r-xp", "/venv/tensorflow/libtensorflow_cc.so.2"),
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/smaps is Linux's")
def test_release_shrinks_the_resident_set_and_tensorflow_still_runs():
    # A fresh process, as a training run is: import, compute, release, compute again (the
    # same kernels and one never run before), results unchanged.
    script = textwrap.dedent(
        """
        import json
        import numpy as np
        import tensorflow as tf
        from idcg_tf import memory

        def file_kib():
            for line in open("/proc/self/status"):
                if line.startswith("RssFile:"):
                    return int(line.split()[1])

        x = tf.random.stateless_normal([2, 8, 16, 16, 3], seed=[1, 2])
        k = tf.random.stateless_normal([3, 3, 3, 3, 8], seed=[3, 4])

        def step():
            with tf.GradientTape() as tape:
                tape.watch(k)
                y = tf.nn.conv3d(x, k, [1, 1, 1, 1, 1], "SAME")
                loss = tf.reduce_sum(tf.nn.relu(y) ** 2)
            return y.numpy(), tape.gradient(loss, k).numpy()

        before = step()
        file_before = file_kib()
        released = memory.release_library_pages()
        file_after = file_kib()
        again = memory.release_library_pages()  # once per process
        after = step()
        a = np.random.default_rng(0).normal(size=(6, 6)).astype(np.float32)
        s = tf.linalg.svd(a, compute_uv=False).numpy()
        print(json.dumps({
            "released": released, "again": again, "file_before": file_before, "file_after": file_after,
            "same": bool(all(np.array_equal(p, q) for p, q in zip(before, after))),
            "svd_ok": bool(np.allclose(s, np.linalg.svd(a, compute_uv=False), atol=1e-4)),
        }))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["released"] > 100 * 2**20, r  # TF's import maps hundreds of MiB of its code
    assert r["file_before"] - r["file_after"] > 0.8 * r["released"] / 1024, r
    assert r["again"] == 0, r
    assert r["same"] and r["svd_ok"], r


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_heap_returns_the_holes_of_the_c_heap():
    # 200 MiB of small blocks freed below one block still in use: free() alone keeps them
    # resident (only the heap's top is given back); trim_heap hands them back.
    script = textwrap.dedent(
        """
        import ctypes, json
        from idcg_tf import memory

        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]

        def anon_kib():
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])

        blocks = [libc.malloc(4096) for _ in range(51200)]
        for b in blocks:
            libc.memset(b, 1, 4096)
        keep = libc.malloc(4096)
        libc.memset(keep, 1, 4096)
        for b in blocks:
            libc.free(b)
        freed = anon_kib()
        memory.trim_heap()
        print(json.dumps({"freed": freed, "trimmed": anon_kib()}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["freed"] - r["trimmed"] > 150 * 1024, r
