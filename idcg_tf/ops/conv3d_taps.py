"""3D convolution and transposed convolution ("same" padding) as 2D convolutions over
temporal taps.

A 3D kernel of temporal size kt is kt 2D kernels, one per time offset ("tap"). Stacking the
time-shifted inputs of the taps on the channel axis turns the whole 3D convolution into ONE
2D convolution over (N * T_out) frames with kt times the input channels; a transposed 3D
convolution becomes, for each temporal output phase, one 2D transposed convolution over the
taps of that phase. 2D convolutions and their gradients have fast kernels everywhere (oneDNN
on CPU, cuDNN on GPU), and all gradients, including the second derivative the WGAN-GP penalty
takes through the video critic, are TensorFlow's automatic derivatives of conv2d, slices and
concat: no hand-written backward pass.

Layouts are TensorFlow's: inputs (N, T, H, W, C); conv kernel (kt, kh, kw, C, F); transposed
conv kernel (kt, kh, kw, F, C).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops import litert_trace


def _transpose2d(x: tf.Tensor, kernel: tf.Tensor, out_shape, strides) -> tf.Tensor:
    """One phase's "same" 2D transposed convolution, output (N, H * sh, W * sw, F): in the
    LiteRT trace (`litert_trace`) the sub-pixel form where it applies, else TF's op."""
    from idcg_tf.ops import conv2d_matmul, conv2d_subpixel  # both import this module

    static = all(d is not None for d in x.shape[1:])
    if litert_trace.active() and static and conv2d_matmul.supported(kernel.shape, strides):
        return conv2d_subpixel.conv2d_transpose_subpixel(x, kernel, strides)
    return tf.nn.conv2d_transpose(x, kernel, out_shape, [1, *strides, 1], "SAME")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """(output size, pad before, pad after) of TF's "same" padding; the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def same_paddings(sizes, kernel, strides) -> tuple[list[int], list[list[int]]]:
    """`same_padding` over several axes: the output sizes and the [before, after] pad of each
    axis, as `tf.pad` takes them."""
    geometry = [same_padding(n, k, s) for n, k, s in zip(sizes, kernel, strides)]
    return [out for out, _, _ in geometry], [[before, after] for _, before, after in geometry]


def _triple(value) -> tuple[int, int, int]:
    if isinstance(value, int):
        return (value,) * 3
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f"expected an int or 3 ints, got {value}")
    return value


def _reshape(x: tf.Tensor, lead: list, start: int) -> tf.Tensor:
    """x reshaped to `lead` + x's dims from `start` on, as Python ints where they are static:
    a graph converted to LiteRT then keeps every tensor's shape known, which its CPU kernels
    (XNNPACK) need to run the ops that follow."""
    rest = x.shape[start:]
    if all(d is not None for d in rest):
        return tf.reshape(x, [*lead, *rest])
    return tf.reshape(x, tf.concat([lead, tf.shape(x)[start:]], axis=0))


def _frames(x: tf.Tensor) -> tf.Tensor:
    """(N, T, H, W, C) -> (N * T, H, W, C)."""
    return _reshape(x, [-1], 2)


def strided_taps(x: tf.Tensor, kt: int, st: int, t_out: int, before: int, after: int):
    """The taps of a time-strided convolution without strided slices (LiteRT's CPU kernels
    run only unit-stride slices; the per-tap filter gradients of
    `idcg_tf.ops.conv3d_filter_grads` are faster this way too): the padded frames folded into
    (frames / st, st) pairs, tap dt = st * a + r is the unit-stride slice [a : a + t_out] of
    residue r."""
    padded = x.shape[1] + before + after
    pairs = max(-(-padded // st), (kt - 1) // st + t_out)
    xp = tf.pad(x, [[0, 0], [before, after + pairs * st - padded], [0, 0], [0, 0], [0, 0]])
    folded = tf.reshape(xp, [-1, pairs, st, *x.shape[2:]])
    return [
        tf.reshape(
            folded[:, dt // st : dt // st + t_out, dt % st : dt % st + 1], [-1, t_out, *x.shape[2:]]
        )
        for dt in range(kt)
    ]


# In the LiteRT trace with `tap_sum` (the float files), a convolution over at least this many
# input channels runs as one 2D convolution per tap (`_tap_sum`); over fewer (the 3-channel
# first layers) the stacked taps' one convolution is the faster. Timings: docs/performance.md
# (Inference).
TAP_SUM_MIN_CHANNELS = 16


def _tap_sum(taps, kernel, t: int, st: int, before: int, sh: int, sw: int) -> tf.Tensor:
    """The sum over taps of one 2D convolution each, every tap's taken only over the output
    frames whose input frame is real (not the "same" padding's zeros), padded back in time:
    what XNNPACK runs faster than the stacked taps' one convolution (smaller matmuls, no
    products with padding)."""
    t_out = taps[0].shape[1]
    y = None
    for dt, tap in enumerate(taps):
        real = [o for o in range(t_out) if 0 <= o * st + dt - before < t]
        if not real:
            continue
        lo, hi = real[0], real[-1] + 1
        part = tap if (lo, hi) == (0, t_out) else tap[:, lo:hi]
        yd = _reshape(
            tf.nn.conv2d(_frames(part), kernel[dt], [1, sh, sw, 1], "SAME"), [-1, hi - lo], 1
        )
        if (lo, hi) != (0, t_out):
            yd = tf.pad(yd, [[0, 0], [lo, t_out - hi], [0, 0], [0, 0], [0, 0]])
        y = yd if y is None else y + yd
    return y


def conv3d_taps(x: tf.Tensor, kernel: tf.Tensor, strides=1) -> tf.Tensor:
    """Equals `tf.nn.conv3d(x, kernel, [1, *strides, 1], "SAME")`. Static T is required."""
    st, sh, sw = _triple(strides)
    kt = kernel.shape[0]
    t = x.shape[1]
    t_out, before, after = same_padding(t, kt, st)
    lite = litert_trace.active() and all(d is not None for d in x.shape[2:])
    # Tap dt of output frame o reads padded frame o * st + dt.
    if st > 1 and lite:
        taps = strided_taps(x, kt, st, t_out, before, after)
    else:
        xp = tf.pad(x, [[0, 0], [before, after], [0, 0], [0, 0], [0, 0]])
        taps = [xp[:, dt : dt + st * (t_out - 1) + 1 : st] for dt in range(kt)]
    if lite and litert_trace.tap_sum() and kt > 1 and x.shape[-1] >= TAP_SUM_MIN_CHANNELS:
        return _tap_sum(taps, kernel, t, st, before, sh, sw)
    stacked = taps[0] if kt == 1 else tf.concat(taps, axis=-1)  # channels (dt, c)
    kh, kw, c, f = kernel.shape[1:]
    k2 = tf.reshape(tf.transpose(kernel, [1, 2, 0, 3, 4]), [kh, kw, kt * c, f])
    y = tf.nn.conv2d(_frames(stacked), k2, [1, sh, sw, 1], "SAME")
    return _reshape(y, [-1, t_out], 1)


def _shift(x: tf.Tensor, offset: int) -> tf.Tensor:
    """x'[q] = x[q + offset] along time, zero where q + offset falls outside."""
    t = x.shape[1]
    if offset == 0:
        return x
    if abs(offset) >= t:
        return tf.zeros_like(x)
    # tf.slice: its gradient is a pad (a strided slice's, StridedSliceGrad, is slower)
    if offset > 0:
        kept = tf.slice(x, [0, offset, 0, 0, 0], [-1, t - offset, -1, -1, -1])
        return tf.pad(kept, [[0, 0], [0, offset], [0, 0], [0, 0], [0, 0]])
    kept = tf.slice(x, [0, 0, 0, 0, 0], [-1, t + offset, -1, -1, -1])
    return tf.pad(kept, [[0, 0], [-offset, 0], [0, 0], [0, 0], [0, 0]])


def conv3d_transpose_taps(x: tf.Tensor, kernel: tf.Tensor, strides=1) -> tf.Tensor:
    """Equals Conv3DTranspose with "same" padding (output = input * strides), i.e.
    `tf.nn.conv3d_transpose(x, kernel, out_shape, [1, *strides, 1], "SAME")`. Static T, H, W.

    It is the adjoint of the "same" conv of an (T * st)-frame input: output frame i gets
    input frame o through tap dt where o * st + dt - pad = i. For the output frames of one
    phase p (i = q * st + p) the taps are those with dt = (p + pad) mod st (+ st, ...), each
    reading input frame q + (p + pad - dt) / st: one 2D transposed conv per phase.
    """
    st, sh, sw = _triple(strides)
    kt, kh, kw, f, c = kernel.shape
    n_t, h, w = x.shape[1:4]
    _, pad, _ = same_padding(n_t * st, kt, st)
    out_frames = tf.concat([[tf.shape(x)[0] * n_t], [h * sh, w * sw, f]], axis=0)
    phases = []
    for p in range(st):
        taps = [dt for dt in range(kt) if (p + pad - dt) % st == 0]
        if not taps:
            phases.append(tf.zeros(tf.concat([tf.shape(x)[:2], out_frames[1:]], axis=0), x.dtype))
            continue
        shifted = [_shift(x, (p + pad - dt) // st) for dt in taps]
        stacked = shifted[0] if len(taps) == 1 else tf.concat(shifted, axis=-1)
        k2 = tf.concat([kernel[dt] for dt in taps], axis=-1)  # (kh, kw, F, taps * C)
        y = _transpose2d(_frames(stacked), k2, out_frames, (sh, sw))
        phases.append(tf.reshape(y, [-1, n_t, h * sh, w * sw, f]))
    if st == 1:
        return phases[0]
    y = tf.stack(phases, axis=2)  # (N, T, st, H', W', F): frame q * st + p
    return tf.reshape(y, [-1, n_t * st, h * sh, w * sw, f])
