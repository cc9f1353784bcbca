"""3D convolution ("same" padding) whose filter gradients take the input padded first.

The forward pass and the input gradient are TF's own ops. Every filter gradient, the WGAN-GP
penalty's second-derivative one included, is `Conv3DBackpropFilterV2` with "valid" padding on
the input padded beforehand, the same sum. Why: for an input of few channels (the video
networks' 3-channel first layers), oneDNN's AVX2 code has no direct kernel for a filter
gradient with the padding inside the convolution on TF's NDHWC tensors and computes it by
im2col and a matmul; with the padding done first it runs its direct AVX2 kernel, the faster
for those layers. On wider layers, and in oneDNN's AVX-512 code, the stock op is as fast or
faster; `idcg_tf.ops.conv_autotune` times this form beside the others for layers of few input
channels and picks (figures: docs/performance.md).

Derivatives: y = conv(x, W) has dx = input_grad(dy, W) and dW = filter_grad(x, dy);
input_grad is linear in (dy, W), so the derivatives of <g, input_grad(dy, W)> are conv(g, W)
for dy and filter_grad(g, dy) for W. Both are written below as nested custom gradients, so
the penalty's outer tape reaches the padded filter gradient too. Orders above the second go
through TF's own gradients of these ops.

Layouts are TensorFlow's: inputs (N, T, H, W, C); kernel (kt, kh, kw, C, F).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops.conv3d_taps import same_paddings

__all__ = ["conv3d_padded"]


def conv3d_padded(x: tf.Tensor, kernel: tf.Tensor, strides=(1, 1, 1)) -> tf.Tensor:
    """Equals `tf.nn.conv3d(x, kernel, [1, *strides, 1], "SAME")`, gradients of every order
    included. Static T, H, W.

    Example:
        >>> conv3d_padded(tf.zeros([1, 8, 16, 16, 3]), tf.zeros([4, 4, 4, 3, 8]), (2, 2, 2)).shape
        TensorShape([1, 4, 8, 8, 8])
    """
    strides = [1, *(int(s) for s in strides), 1]
    kernel_size = kernel.shape[:3]
    _, pads = same_paddings(x.shape[1:4], kernel_size, strides[1:4])
    paddings = [[0, 0], *pads, [0, 0]]
    kernel_shape = tf.shape(kernel)
    input_shape = tf.shape(x)

    def filter_grad(inputs, dy):
        return tf.raw_ops.Conv3DBackpropFilterV2(
            input=tf.pad(inputs, paddings),
            filter_sizes=kernel_shape,
            out_backprop=dy,
            strides=strides,
            padding="VALID",
        )

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
