"""2D transposed convolution ("same" padding) as ONE stride-1 2D convolution and a
depth-to-space: the sub-pixel form, for graphs converted to LiteRT. It applies where each
stride divides its kernel size (`conv2d_matmul.supported`).

With stride s dividing kernel k, output pixel s * q + p (phase p) is a (k/s)-tap filter of the
input around q, one filter per phase, over windows that differ between phases by at most one
pixel. One "valid" convolution with a (k/s x k/s) kernel over the padded input computes every
phase's filter at every window as s*s*F output channels; each phase's channels are sliced at
its window offset, and depth-to-space interleaves the phases. The kernel is only reordered
(a constant in a converted graph): the same values as the transposed convolution, up to
float rounding, for (H/s+1)(W/s+1) / (H/s * W/s) of its multiply-adds.

Traced inside `idcg_tf.ops.litert_trace.litert_trace()`. Why: LiteRT's CPU kernels (XNNPACK)
run 2D convolutions much faster than its TRANSPOSE_CONV (and than the one-matmul form's
scatter of windows: `idcg_tf.ops.conv2d_matmul`), in float32 and in int8; measured figures in
docs/performance.md (Inference).

Layouts are TensorFlow's: inputs (N, H, W, C); transposed conv kernel (kh, kw, F, C) with
output (N, H*s, W*s, F).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops.conv3d_taps import same_padding


def _phases(size: int, kernel: int, stride: int):
    """Per output phase p: (window offset, [kernel index of window position a]); and the
    (before, after) padding of the input. Output s * q + p reads input q - m through kernel
    tap s * m + p + P (P: the "same" conv's padding before), for the k/s values of m that
    land in the kernel; its window starts at input q - max(m)."""
    _, pad, _ = same_padding(size * stride, kernel, stride)
    taps = kernel // stride
    m_max = [(kernel - 1 - p - pad) // stride for p in range(stride)]
    before, low = max(m_max), min(m_max)
    phases = [
        (before - m_max[p], [stride * (m_max[p] - a) + p + pad for a in range(taps)])
        for p in range(stride)
    ]
    return phases, (before, taps - 1 - low)


def conv2d_transpose_subpixel(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1)) -> tf.Tensor:
    """Equals Conv2DTranspose with "same" padding (output = input * strides), i.e.
    `tf.nn.conv2d_transpose(x, kernel, out_shape, [1, *strides, 1], "SAME")`. Static H, W."""
    (sh, sw), (kh, kw, f, _) = tuple(strides), kernel.shape
    h, w = x.shape[1:3]
    rows, pad_h = _phases(h, kh, sh)
    cols, pad_w = _phases(w, kw, sw)
    # (a, b, C, F) per phase (ph, pw), concatenated on F in depth-to-space order.
    k2 = tf.concat(
        [
            tf.transpose(tf.stack([tf.stack([kernel[i, j] for j in jw]) for i in ih]), [0, 1, 3, 2])
            for _, ih in rows
            for _, jw in cols
        ],
        axis=-1,
    )
    xp = tf.pad(x, [[0, 0], pad_h, pad_w, [0, 0]])
    z = tf.nn.conv2d(xp, k2, 1, "VALID")  # (N, H + oh, W + ow, sh * sw * F)
    parts = [
        z[:, oh : oh + h, ow : ow + w, (r * sw + c) * f : (r * sw + c + 1) * f]
        for r, (oh, _) in enumerate(rows)
        for c, (ow, _) in enumerate(cols)
    ]
    s = parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)
    if sh == sw:
        return tf.nn.depth_to_space(s, sh) if sh > 1 else s
    n_ = tf.shape(s)[0]
    y = tf.reshape(s, [n_, h, w, sh, sw, f])
    return tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [n_, h * sh, w * sw, f])
