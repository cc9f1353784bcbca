"""The machine's measured fp32 matmul peak, in the process that measures the model, so that
achieved / peak (MFU) compares like with like."""

from __future__ import annotations

import time

import tensorflow as tf


def matmul_peak_flops(size: int = 2048, repeats: int = 10, device: str | None = None) -> float:
    """Best FLOP/s of a (size x size) @ (size x size) fp32 matmul over `repeats` runs."""
    with tf.device(device or ("/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0")):
        a = tf.random.normal([size, size])
        b = tf.random.normal([size, size])
        matmul = tf.function(lambda a, b: tf.reduce_sum(a @ b))
        matmul(a, b).numpy()  # trace and warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            matmul(a, b).numpy()
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best
