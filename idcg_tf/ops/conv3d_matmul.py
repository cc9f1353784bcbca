"""3D convolution ("same" padding) as ONE matrix multiply: the form of
`idcg_tf.ops.conv2d_matmul` with a time axis.

For a kernel that the strides divide (the models' 4x4x4 stride-2 / (1, 2, 2) and 3x3x3 stride-1
layers), space-to-depth by the strides (st, sh, sw) turns the strided convolution into a
stride-1 convolution with a (kt/st, kh/sh, kw/sw) kernel over st*sh*sw*C channels; stacking its
shifted windows on the channel axis and putting their columns in the kernel's own
(kt, kh, kw, C) order makes it a (N*T'*H'*W', kt*kh*kw*C) x (kt*kh*kw*C, F) matmul. Only the
patch matrix is reordered, never the kernel (the large operand of the small late layers).
Every gradient, including the WGAN-GP penalty's second derivative, is TF's automatic
derivative of pad, reshape, transpose, slice, concat and matmul (the windows are `tf.slice`s,
whose gradient is a pad).

Why: on small late layers (the video critic's and the video encoder's (4, 8, 8, 256) -> 512,
stride 2) oneDNN's 3D kernels reach a lower rate than one matmul of the same FLOPs at small
batches; on large maps the matmul form is the slower one (its patch matrix grows with the
kernel volume). `idcg_tf.ops.conv_autotune` times it beside the other forms per layer shape
and picks (figures: docs/performance.md).

Layouts are TensorFlow's: inputs (N, T, H, W, C); kernel (kt, kh, kw, C, F).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops.conv3d_taps import same_paddings

__all__ = ["conv3d_matmul", "conv3d_transpose_matmul"]


def _space_to_depth(x: tf.Tensor, strides, blocks, c: int) -> tf.Tensor:
    """(N, T'*st, H'*sh, W'*sw, C) -> (N, T', H', W', st*sh*sw*C), channels in
    (pt, ph, pw, c) order."""
    if strides == (1, 1, 1):
        return x
    (st, sh, sw), (t, h, w) = strides, blocks
    y = tf.reshape(x, [-1, st, h, sh, w, sw * c])  # (N*T', st, H', sh, W', sw*C)
    y = tf.transpose(y, [0, 2, 4, 1, 3, 5])  # (N*T', H', W', st, sh, sw*C)
    return tf.reshape(y, [-1, t, h, w, st * sh * sw * c])


def _depth_to_space(x: tf.Tensor, strides, blocks, c: int) -> tf.Tensor:
    """The inverse of `_space_to_depth`: (N, T', H', W', st*sh*sw*C) -> (N, T'*st, H'*sh,
    W'*sw, C)."""
    if strides == (1, 1, 1):
        return x
    (st, sh, sw), (t, h, w) = strides, blocks
    y = tf.reshape(x, [-1, h, w, st, sh, sw * c])  # (N*T', H', W', st, sh, sw*C)
    y = tf.transpose(y, [0, 3, 1, 4, 2, 5])  # (N*T', st, H', sh, W', sw*C)
    return tf.reshape(y, [-1, t * st, h * sh, w * sw, c])


def _kernel_order(patches: tf.Tensor, taps, strides, c: int) -> tf.Tensor:
    """The stacked windows' column order (at, ah, aw, pt, ph, pw, c) -> the kernel's
    (at, pt, ah, ph, aw, pw, c), kernel index = a * stride + p along each axis."""
    if taps == (1, 1, 1) or strides == (1, 1, 1):
        return patches  # one of the two groups is all ones: the orders coincide
    (_, ah, aw), (st, sh, sw) = taps, strides
    y = tf.reshape(patches, [-1, ah, aw, st, sh, sw * c])  # (M*at, ah, aw, pt, ph, pw*c)
    return tf.transpose(y, [0, 3, 1, 4, 2, 5])  # (M*at, pt, ah, ph, aw, pw*c)


def _window_order(columns: tf.Tensor, taps, strides, c: int) -> tf.Tensor:
    """The inverse of `_kernel_order`: the kernel's column order (at, pt, ah, ph, aw, pw, c)
    -> the stacked windows' (at, ah, aw, pt, ph, pw, c)."""
    if taps == (1, 1, 1) or strides == (1, 1, 1):
        return columns
    (_, ah, aw), (st, sh, sw) = taps, strides
    y = tf.reshape(columns, [-1, st, ah, sh, aw, sw * c])  # (M*at, pt, ah, ph, aw, pw*c)
    return tf.transpose(y, [0, 2, 4, 1, 3, 5])  # (M*at, ah, aw, pt, ph, pw*c)


def conv3d_matmul(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1, 1)) -> tf.Tensor:
    """Equals `tf.nn.conv3d(x, kernel, [1, *strides, 1], "SAME")` where each stride divides its
    kernel size (`idcg_tf.ops.conv2d_matmul.supported`, for both ranks). Static T, H, W, C."""
    strides = tuple(int(s) for s in strides)
    kt, kh, kw, c, f = kernel.shape
    out, pads = same_paddings(x.shape[1:4], (kt, kh, kw), strides)
    taps = tuple(k // s for k, s in zip((kt, kh, kw), strides))
    xp = tf.pad(x, [[0, 0], *pads, [0, 0]])
    blocks = [o + a - 1 for o, a in zip(out, taps)]
    s = _space_to_depth(xp, strides, blocks, c)  # (N, T'', H'', W'', st * sh * sw * C)
    (ot, oh, ow), (at, ah, aw) = out, taps
    # tf.slice, not s[...]: its gradient is one Pad, where a strided slice's is
    # StridedSliceGrad, several times slower on CPU (docs/performance.md).
    windows = [
        tf.slice(s, [0, a, b, d, 0], [-1, ot, oh, ow, -1])
        for a in range(at)
        for b in range(ah)
        for d in range(aw)
    ]
    patches = windows[0] if len(windows) == 1 else tf.concat(windows, axis=-1)
    patches = _kernel_order(patches, taps, strides, c)
    k = kt * kh * kw * c
    y = tf.matmul(tf.reshape(patches, [-1, k]), tf.reshape(kernel, [k, f]))
    return tf.reshape(y, [-1, ot, oh, ow, f])


def conv3d_transpose_matmul(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1, 1)) -> tf.Tensor:
    """Equals Conv3DTranspose with "same" padding (output = input * strides), i.e.
    `tf.nn.conv3d_transpose(x, kernel, out_shape, [1, *strides, 1], "SAME")`: the adjoint of
    `conv3d_matmul` on a (T * st, H * sh, W * sw) input, kernel (kt, kh, kw, F, C) as Keras
    keeps it. One matmul with the kernel, then each window added back in place (a pad, whose
    gradient is a slice) and depth-to-space. Static T, H, W, C."""
    strides = tuple(int(s) for s in strides)
    kt, kh, kw, f, c = kernel.shape
    sizes = [n * s for n, s in zip(x.shape[1:4], strides)]
    (ot, oh, ow), pads = same_paddings(sizes, (kt, kh, kw), strides)  # out = x's T, H, W
    taps = tuple(k // s for k, s in zip((kt, kh, kw), strides))
    (at, ah, aw), blocks = taps, [o + a - 1 for o, a in zip((ot, oh, ow), taps)]
    k = kt * kh * kw * f
    z = tf.matmul(tf.reshape(x, [-1, c]), tf.reshape(kernel, [k, c]), transpose_b=True)
    z = _window_order(z, taps, strides, f)
    depth = strides[0] * strides[1] * strides[2] * f
    z = tf.reshape(z, [-1, ot, oh, ow, at * ah * aw, depth])
    # Window (a, b, d) read s[a : a + ot, b : b + oh, d : d + ow]: add it back there.
    windows = tf.unstack(z, axis=4)  # row-major over (a, b, d); its gradient is one stack
    placed = [
        tf.pad(
            windows[(a * ah + b) * aw + d],
            [[0, 0], [a, at - 1 - a], [b, ah - 1 - b], [d, aw - 1 - d], [0, 0]],
        )
        for a in range(at)
        for b in range(ah)
        for d in range(aw)
    ]
    s = placed[0] if len(placed) == 1 else tf.add_n(placed)
    xp = _depth_to_space(s, strides, blocks, f)  # the padded input's gradient
    return tf.slice(xp, [0, *[before for before, _ in pads], 0], [-1, *sizes, -1])
