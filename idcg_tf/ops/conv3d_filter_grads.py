"""3D convolutions ("same" padding) that keep TF's forward pass and input gradient and take
their filter gradients in another form, for the layers where oneDNN's AVX2 code computes TF's
own filter gradient slowly:

- `conv3d_padded`: `Conv3DBackpropFilterV2` with "valid" padding on the input padded
  beforehand, the same sum. For an input of few channels (the video networks' 3-channel first
  layers), oneDNN's AVX2 code has no direct kernel for a filter gradient with the padding
  inside the convolution on TF's NDHWC tensors and computes it by im2col and a matmul; with
  the padding done first it runs its direct AVX2 kernel, the faster for those layers.
- `conv3d_tap_filters`: one 2D filter gradient per temporal tap of the kernel
  (`Conv2DBackpropFilter` over the N * T_out frames that tap reads), stacked. On the wider
  layers, oneDNN's AVX2 code runs these 2D filter gradients faster than its 3D one.

On other layers, and in oneDNN's AVX-512 code, TF's own op is as fast or faster;
`idcg_tf.ops.conv_autotune` times these forms beside the others and picks per layer shape
(figures: docs/performance.md).

Derivatives: y = conv(x, W) has dx = input_grad(dy, W) and dW = filter_grad(x, dy);
input_grad is linear in (dy, W), so the derivatives of <g, input_grad(dy, W)> are conv(g, W)
for dy and filter_grad(g, dy) for W. Both are written below as nested custom gradients, so the
WGAN-GP penalty's outer tape reaches the form's filter gradient too. Orders above the second
go through TF's own gradients of the ops each form is made of.

Layouts are TensorFlow's: inputs (N, T, H, W, C); kernel (kt, kh, kw, C, F).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops.conv3d_taps import same_padding, same_paddings, strided_taps

__all__ = ["conv3d_padded", "conv3d_tap_filters"]


def _with_filter_grad(x: tf.Tensor, kernel: tf.Tensor, strides, filter_grad) -> tf.Tensor:
    """`tf.nn.conv3d(x, kernel, strides, "SAME")` whose every filter gradient, the
    second-order one included, is `filter_grad(inputs, dy)`."""
    strides = [1, *(int(s) for s in strides), 1]
    input_shape = tf.shape(x)

    @tf.custom_gradient
    def input_grad(dy, w):
        dx = tf.raw_ops.Conv3DBackpropInputV2(
            input_sizes=input_shape, filter=w, out_backprop=dy, strides=strides, padding="SAME"
        )

        def backward(g):
            return tf.nn.conv3d(g, w, strides, "SAME"), filter_grad(g, dy)

        return dx, backward

    @tf.custom_gradient
    def forward(x, w):
        def backward(dy):
            return input_grad(dy, w), filter_grad(x, dy)

        return tf.nn.conv3d(x, w, strides, "SAME"), backward

    return forward(x, kernel)


def conv3d_padded(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1, 1)) -> tf.Tensor:
    """Equals `tf.nn.conv3d(x, kernel, [1, *strides, 1], "SAME")`, gradients of every order
    included; its filter gradients run on the input padded first. Static T, H, W.

    Example:
        >>> conv3d_padded(tf.zeros([1, 8, 16, 16, 3]), tf.zeros([4, 4, 4, 3, 8]), (2, 2, 2)).shape
        TensorShape([1, 4, 8, 8, 8])
    """
    strides = [int(s) for s in strides]
    _, pads = same_paddings(x.shape[1:4], kernel.shape[:3], strides)
    paddings = [[0, 0], *pads, [0, 0]]
    kernel_shape = tf.shape(kernel)

    def filter_grad(inputs, dy):
        return tf.raw_ops.Conv3DBackpropFilterV2(
            input=tf.pad(inputs, paddings),
            filter_sizes=kernel_shape,
            out_backprop=dy,
            strides=[1, *strides, 1],
            padding="VALID",
        )

    return _with_filter_grad(x, kernel, strides, filter_grad)


def conv3d_tap_filters(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1, 1)) -> tf.Tensor:
    """Equals `tf.nn.conv3d(x, kernel, [1, *strides, 1], "SAME")`, gradients of every order
    included; its filter gradients are one 2D filter gradient per temporal tap. Static T, H,
    W, C.

    Example:
        >>> x, w = tf.zeros([1, 8, 16, 16, 8]), tf.zeros([4, 4, 4, 8, 2])
        >>> conv3d_tap_filters(x, w, (2, 2, 2)).shape
        TensorShape([1, 4, 8, 8, 2])
    """
    strides = [int(s) for s in strides]
    (kt, kh, kw, c, f), (st, sh, sw) = kernel.shape, strides
    t_out, before, after = same_padding(x.shape[1], kt, st)

    def filter_grad(inputs, dy):
        frames_dy = tf.reshape(dy, [-1, *dy.shape[2:]])
        return tf.stack(
            [
                tf.raw_ops.Conv2DBackpropFilter(
                    input=tf.reshape(tap, [-1, *tap.shape[2:]]),
                    filter_sizes=[kh, kw, c, f],
                    out_backprop=frames_dy,
                    strides=[1, sh, sw, 1],
                    padding="SAME",
                )
                for tap in strided_taps(inputs, kt, st, t_out, before, after)
            ]
        )

    return _with_filter_grad(x, kernel, strides, filter_grad)
