"""The trace-time switch for graphs converted to LiteRT.

Inside `litert_trace()`, the convolution ops trace the forms LiteRT's CPU kernels (XNNPACK) run
fastest, with the same weights and the same values up to float rounding: every 2D transposed
convolution as a sub-pixel convolution (`idcg_tf.ops.conv2d_subpixel`), and the time-strided
taps of `idcg_tf.ops.conv3d_taps` without strided slices. `idcg_tf.deploy.litert` traces the
generators inside it; training and the other exports never do. Timings: docs/performance.md
(Inference).
"""

from __future__ import annotations

import contextlib

_depth = 0


@contextlib.contextmanager
def litert_trace():
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def active() -> bool:
    """Whether a graph traced now is for LiteRT."""
    return _depth > 0
