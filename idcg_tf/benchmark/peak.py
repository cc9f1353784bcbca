"""The machine's measured fp32 matmul peak, in the process that measures the model, so that
achieved / peak (MFU) compares like with like."""

from __future__ import annotations

import time

import tensorflow as tf


def compute_dtype(mixed_precision: str) -> str:
    """The matmul dtype of a `trainer.mixed_precision` policy ("none": float32)."""
    return {"none": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}[
        mixed_precision
    ]


def matmul_peak_flops(
    size: int = 2048, repeats: int = 10, device: str | None = None, dtype: str = "float32"
) -> float:
    """Best FLOP/s of a (size x size) @ (size x size) matmul in `dtype` over `repeats` runs:
    the peak at the policy in use (a GPU's float16/bfloat16 tensor cores run several times its
    float32 rate)."""
    with tf.device(device or ("/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0")):
        a = tf.cast(tf.random.normal([size, size]), dtype)
        b = tf.cast(tf.random.normal([size, size]), dtype)
        matmul = tf.function(lambda a, b: tf.reduce_sum(a @ b))
        matmul(a, b).numpy()  # trace and warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            matmul(a, b).numpy()
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best
