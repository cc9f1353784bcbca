"""3D convolution and transposed convolution ("same" padding) as one matmul over patches.

TensorFlow's CPU kernels for the filter gradient of Conv3D (and hence the forward and gradients
of Conv3DTranspose) run at a few GFLOP/s when oneDNN does not take them (inside the training
loop's while loop, for instance), far below the machine's matmul speed. These functions compute
the same values from pad, reshape/transpose (space-to-depth), stride-1 slices, concat and one
MatMul, all ops with fast kernels and registered gradients. The gradients, and the gradients of
the gradients that the WGAN-GP penalty needs, are TensorFlow's automatic derivatives of these
ops: no hand-written backward pass to keep in sync.

Layouts are TensorFlow's: inputs (N, T, H, W, C); conv kernel (kt, kh, kw, C, F); transposed
conv kernel (kt, kh, kw, F, C) (out channels before in channels, as Conv3DTranspose).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """(output size, pad before, pad after) of TF's "same" padding; the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _triple(value) -> tuple[int, int, int]:
    if isinstance(value, int):
        return (value,) * 3
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"expected an int or 3 ints, got {value}")
    return value


def _space_to_depth(x: tf.Tensor, factors) -> tf.Tensor:
    """(N, T, H, W, C) with dims divisible by `factors` -> (N, T/st, H/sh, W/sw, st*sh*sw*C),
    channels ordered (rt, rh, rw, c)."""
    st, sh, sw = factors
    if factors == (1, 1, 1):
        return x
    _, t, h, w, c = x.shape
    x = tf.reshape(x, [-1, t // st, st, h // sh, sh, w // sw, sw, c])
    x = tf.transpose(x, [0, 1, 3, 5, 2, 4, 6, 7])
    return tf.reshape(x, [-1, t // st, h // sh, w // sw, st * sh * sw * c])


def _patches(x: tf.Tensor, window, out) -> tf.Tensor:
    """Stride-1 windows of size `window` at `out` positions per dim, concatenated on channels
    in (jt, jh, jw, c) order: (N, *out, prod(window) * C)."""
    parts = [x[:, a:a + out[0], b:b + out[1], d:d + out[2]]
             for a in range(window[0]) for b in range(window[1]) for d in range(window[2])]
    return parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)


def conv3d_same(x: tf.Tensor, kernel: tf.Tensor, strides=1) -> tf.Tensor:
    """Equals `tf.nn.conv3d(x, kernel, [1, *strides, 1], "SAME")`, computed as space-to-depth
    by the strides, stride-1 patches and one matmul. Static spatial shapes are required."""
    strides = _triple(strides)
    ksize = tuple(int(k) for k in kernel.shape[:3])
    c, f = int(kernel.shape[3]), int(kernel.shape[4])
    sizes = tuple(int(v) for v in x.shape[1:4])
    if x.shape[-1] is not None and int(x.shape[-1]) != c:
        raise ValueError(f"input has {x.shape[-1]} channels, kernel expects {c}")
    outs, pads, window = [], [], []
    for n, k, s in zip(sizes, ksize, strides):
        out, before, after = same_padding(n, k, s)
        q = -(-k // s)  # taps per dim after space-to-depth
        blocks = out - 1 + q
        # Pad to whole blocks of `s`; the extra rows only meet zero kernel taps.
        outs.append(out)
        pads.append([before, blocks * s - n - before])
        window.append(q)
    x = tf.pad(x, [[0, 0], *pads, [0, 0]])
    cols = _patches(_space_to_depth(x, strides), window, outs)
    # Kernel (kt, kh, kw, C, F) -> rows ordered (qt, qh, qw, rt, rh, rw, c) like the columns.
    kernel = tf.pad(kernel, [[0, q * s - k] for q, s, k in zip(window, strides, ksize)]
                    + [[0, 0], [0, 0]])
    (qt, qh, qw), (st, sh, sw) = window, strides
    kernel = tf.reshape(kernel, [qt, st, qh, sh, qw, sw, c, f])
    kernel = tf.transpose(kernel, [0, 2, 4, 1, 3, 5, 6, 7])
    kernel = tf.reshape(kernel, [-1, f])
    y = tf.matmul(tf.reshape(cols, [-1, kernel.shape[0]]), kernel)
    return tf.reshape(y, [-1, *outs, f])


def _transpose_plan(n: int, k: int, s: int) -> dict:
    """Per dim of a "same" transposed conv (output n * s): window length, input padding,
    window positions, the window shift of each output phase and, per (window index, phase),
    the kernel tap (-1: none).

    Output index s*m + r receives x[m + o] * W[t] for every tap t with
    t = r + pad_before - s*o, pad_before being that of the forward conv from n*s to n.
    """
    _, pad_before, _ = same_padding(n * s, k, s)
    offsets = [[(r + pad_before - t) // s for t in range(k) if (r + pad_before - t) % s == 0]
               for r in range(s)]
    starts = [min(o) if o else 0 for o in offsets]
    length = max(max(o) - start + 1 for o, start in zip(offsets, starts) if o)
    lowest = min(starts)
    shifts = [start - lowest for start in starts]
    positions = n + max(shifts)
    before = -lowest  # window position p starts at input index p + lowest
    after = positions - 1 + length - n - before
    if before < 0 or after < 0:
        raise ValueError(f"unsupported transposed conv: size {n}, kernel {k}, stride {s}")
    taps = np.full([length, s], -1, dtype=np.int64)
    for r in range(s):
        for j in range(length):
            tap = r + pad_before - s * (starts[r] + j)
            if 0 <= tap < k:
                taps[j, r] = tap
    return dict(length=length, pad=[before, after], positions=positions, shifts=shifts,
                taps=taps)


def conv3d_transpose_same(x: tf.Tensor, kernel: tf.Tensor, strides=1) -> tf.Tensor:
    """Equals `tf.nn.conv3d_transpose(x, kernel, (N, T*st, H*sh, W*sw, F), [1, *strides, 1],
    "SAME")`, computed as one matmul over stride-1 patches of the input that yields every
    output phase at once (sub-pixel form), then the phases interleaved (depth-to-space)."""
    strides = _triple(strides)
    ksize = tuple(int(k) for k in kernel.shape[:3])
    f = int(kernel.shape[3])
    sizes = tuple(int(v) for v in x.shape[1:4])
    plans = [_transpose_plan(n, k, s) for n, k, s in zip(sizes, ksize, strides)]
    x = tf.pad(x, [[0, 0], *[p["pad"] for p in plans], [0, 0]])
    positions = [p["positions"] for p in plans]
    cols = _patches(x, [p["length"] for p in plans], positions)
    # Kernel -> rows (jt, jh, jw, c), columns (rt, rh, rw, f); index k of a dim = a zero tap.
    w = tf.transpose(kernel, [0, 1, 2, 4, 3])  # (kt, kh, kw, C, F)
    w = tf.pad(w, [[0, 1], [0, 1], [0, 1], [0, 0], [0, 0]])
    for axis, (plan, k) in enumerate(zip(plans, ksize)):
        w = tf.gather(w, np.where(plan["taps"] < 0, k, plan["taps"]), axis=2 * axis)
    w = tf.transpose(w, [0, 2, 4, 6, 1, 3, 5, 7])  # (jt, rt, jh, rh, jw, rw, C, F) -> rows, cols
    w = tf.reshape(w, [-1, int(np.prod(strides)) * f])
    y = tf.matmul(tf.reshape(cols, [-1, w.shape[0]]), w)
    y = tf.reshape(y, [-1, *positions, *strides, f])
    # Phase r of a dim reads window positions shifts[r] .. shifts[r] + n - 1; interleave the
    # phases dim by dim (the next phase axis is always axis 4).
    for axis, (plan, n, s) in enumerate(zip(plans, sizes, strides)):
        spatial = 1 + axis
        parts = []
        for r in range(s):
            part = tf.gather(y, r, axis=4)
            begin = [0] * part.shape.rank
            size = [-1] * part.shape.rank
            begin[spatial], size[spatial] = plan["shifts"][r], n
            parts.append(tf.slice(part, begin, size))
        y = parts[0] if s == 1 else tf.stack(parts, axis=spatial + 1)
        shape = [-1] + [int(d) for d in y.shape[1:]]
        if s > 1:
            shape[spatial:spatial + 2] = [n * s]
        y = tf.reshape(y, shape)
    return y
