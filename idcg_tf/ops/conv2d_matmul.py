"""2D convolution and transposed convolution ("same" padding) as ONE matrix multiply.

For a kernel k that the stride s divides (the models' 4x4 stride-2 and 3x3 stride-1 layers),
space-to-depth by s turns the strided convolution into a stride-1 convolution with a
(k/s x k/s) kernel over s*s*C channels; stacking its (k/s)^2 shifted windows on the channel
axis makes it a (N*H'*W', (k/s)^2*s^2*C) x (k*k*C, F) matmul. The transposed convolution is
its adjoint: the matmul with the transposed kernel, then the windows added back in place and
depth-to-space. The kernel enters as a plain reshape of the variable: the patches' columns
are put in the kernel's own (kh, kw, C) order instead (a transpose of the small patch matrix,
not of the large kernel, which every call, inference included, would repeat). Every gradient,
including the WGAN-GP penalty's second derivative, is TF's automatic derivative of pad, slice,
concat, reshape, transpose and matmul (unit-stride `tf.slice`s and unstacks: their gradients
are a pad and a stack, where a strided slice's, StridedSliceGrad, is several times slower).

Why: the CPU kernels of small-map layers (e.g. the image critic's last 4x4 stride-2 conv,
8x8x512 -> 4x4x1024) compute their gradients at a fraction of the rate the same FLOPs reach
as one matmul (measured figures: docs/performance.md). `idcg_tf.ops.conv_autotune` times
both per layer shape and picks.

Layouts are TensorFlow's: inputs (N, H, W, C); conv kernel (kh, kw, C, F); transposed conv
kernel (kh, kw, F, C) with output (N, H*s, W*s, F).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops.conv3d_taps import same_paddings


def supported(kernel_shape, strides) -> bool:
    """Whether the matmul forms (this 2D one and `conv3d_matmul`) compute a kernel of
    `kernel_shape` with `strides` (one per spatial axis): each stride divides its kernel
    size."""
    return all(k % s == 0 for k, s in zip(kernel_shape[: len(strides)], strides))


def _geometry(h: int, w: int, kernel_shape, strides):
    (kh, kw), (sh, sw) = kernel_shape[:2], strides
    out, pads = same_paddings((h, w), (kh, kw), (sh, sw))
    return tuple(out), pads, (kh // sh, kw // sw)


def _swap_middle(x: tf.Tensor, a: int, b: int, rest: int) -> tf.Tensor:
    """Swaps the middle two of the last axis' factors (u, a, b, rest) to (u, b, a, rest). The
    stacked windows' order, (a_h, a_w, p_h, p_w, c), and the kernel's, (kh, kw, c) =
    (a_h, p_h, a_w, p_w, c) with kh index = a_h * s + p_h, are each other's swap."""
    if a == 1 or b == 1:
        return x
    u = x.shape[-1] // (a * b * rest)
    y = tf.transpose(tf.reshape(x, [-1, u, a, b, rest]), [0, 1, 3, 2, 4])
    return tf.reshape(y, [-1, *x.shape[1:]])


def _space_to_depth(x: tf.Tensor, sh: int, sw: int) -> tf.Tensor:
    if sh == sw == 1:
        return x
    if sh == sw:
        return tf.nn.space_to_depth(x, sh)
    n, h, w, c = x.shape
    x = tf.reshape(x, [-1, h // sh, sh, w // sw, sw, c])
    return tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4, 5]), [-1, h // sh, w // sw, sh * sw * c])


def _depth_to_space(x: tf.Tensor, sh: int, sw: int) -> tf.Tensor:
    if sh == sw == 1:
        return x
    if sh == sw:
        return tf.nn.depth_to_space(x, sh)
    n, h, w, c = x.shape
    x = tf.reshape(x, [-1, h, w, sh, sw, c // (sh * sw)])
    return tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4, 5]), [-1, h * sh, w * sw, c // (sh * sw)])


def conv2d_matmul(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1)) -> tf.Tensor:
    """Equals `tf.nn.conv2d(x, kernel, [1, *strides, 1], "SAME")`. Static H, W, C."""
    strides = tuple(strides)
    (out_h, out_w), pads, (th, tw) = _geometry(*x.shape[1:3], kernel.shape, strides)
    xp = tf.pad(x, [[0, 0], *pads, [0, 0]])
    s = _space_to_depth(xp, *strides)  # (N, out_h + th - 1, out_w + tw - 1, sh * sw * C)
    # tf.slice, not s[...]: its gradient is one Pad, where a strided slice's is
    # StridedSliceGrad, several times slower on CPU (docs/performance.md).
    windows = [
        tf.slice(s, [0, a, b, 0], [-1, out_h, out_w, -1]) for a in range(th) for b in range(tw)
    ]
    patches = windows[0] if len(windows) == 1 else tf.concat(windows, axis=-1)
    kh, kw, c, f = kernel.shape
    # (a_h, a_w, p_h, p_w, c) -> the kernel's (a_h, p_h, a_w, p_w, c)
    patches = _swap_middle(patches, tw, strides[0], strides[1] * c)
    y = tf.matmul(tf.reshape(patches, [-1, kh * kw * c]), tf.reshape(kernel, [kh * kw * c, f]))
    return tf.reshape(y, [-1, out_h, out_w, f])


def conv2d_transpose_matmul(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1)) -> tf.Tensor:
    """Equals Conv2DTranspose with "same" padding (output = input * strides), i.e.
    `tf.nn.conv2d_transpose(x, kernel, out_shape, [1, *strides, 1], "SAME")`: the adjoint of
    `conv2d_matmul` on an (H * sh, W * sw) input. Static H, W, C."""
    strides = tuple(strides)
    sh, sw = strides
    h, w = x.shape[1] * sh, x.shape[2] * sw
    (out_h, out_w), ((top, bottom), (left, right)), (th, tw) = _geometry(
        h, w, kernel.shape, strides
    )
    kh, kw, f, c = kernel.shape
    k2 = tf.reshape(kernel, [kh * kw * f, c])
    z = tf.matmul(tf.reshape(x, [-1, c]), k2, transpose_b=True)
    # the kernel's (a_h, p_h, a_w, p_w, f) -> the windows' (a_h, a_w, p_h, p_w, f)
    z = _swap_middle(z, sh, tw, sw * f)
    depth = sh * sw * f
    z = tf.reshape(z, [-1, out_h, out_w, th * tw, depth])
    # Each window (a, b) read s[a : a + out_h, b : b + out_w]: add it back there.
    windows = tf.unstack(z, axis=3)  # (a, b) in row-major order; its gradient is one stack
    placed = [
        tf.pad(windows[a * tw + b], [[0, 0], [a, th - 1 - a], [b, tw - 1 - b], [0, 0]])
        for a in range(th)
        for b in range(tw)
    ]
    s = placed[0] if len(placed) == 1 else tf.add_n(placed)
    xp = _depth_to_space(s, sh, sw)  # the padded (H + pads, W + pads) input's gradient
    return tf.slice(xp, [0, top, left, 0], [-1, h, w, -1])
