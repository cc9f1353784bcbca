"""The trace-time switch for graphs converted to LiteRT.

Inside `litert_trace()`, the convolution ops trace the forms LiteRT's CPU kernels (XNNPACK) run
fastest, with the same weights and the same values up to float rounding: every 2D transposed
convolution as a sub-pixel convolution (`idcg_tf.ops.conv2d_subpixel`), the time-strided taps
of `idcg_tf.ops.conv3d_taps` without strided slices, and, with `tap_sum` (the float files),
each 3D convolution over enough channels as one 2D convolution per temporal tap.
`idcg_tf.deploy.litert` traces the generators inside it; training and the other exports never
do. Timings: docs/performance.md (Inference).
"""

from __future__ import annotations

import contextlib

_depth = 0
_tap_sum = False


@contextlib.contextmanager
def litert_trace(tap_sum: bool = False):
    global _depth, _tap_sum
    _depth += 1
    outer, _tap_sum = _tap_sum, tap_sum
    try:
        yield
    finally:
        _depth -= 1
        _tap_sum = outer


def active() -> bool:
    """Whether a graph traced now is for LiteRT."""
    return _depth > 0


def tap_sum() -> bool:
    """Whether a graph traced now runs 3D convolutions as one 2D convolution per tap."""
    return _depth > 0 and _tap_sum
