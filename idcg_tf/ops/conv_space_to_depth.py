"""A strided convolution ("same" padding) as a stride-1 convolution over space-to-depth blocks.

Where every kernel size is a multiple of its stride (the models' k=4, stride 2 layers), a
stride-s convolution of C channels equals, after the "same" padding, a stride-1 "valid"
convolution of the input cut into s x s (x s) blocks stacked on the channel axis (s^2 or s^3
times C channels) with the kernel cut the same way (k/s taps per axis). Same multiplications,
but the first layers' 3 input channels become 24 (3D) or 12 (2D): convolution kernels
vectorise over channels, and 3 channels leave most of each vector empty, in the forward pass
and even more in the filter gradient. Gradients, including the penalty's second derivative,
are TensorFlow's automatic derivatives of pad, reshape, transpose and the convolution.

Layouts are TensorFlow's: inputs (N, [T,] H, W, C); kernel ([kt,] kh, kw, C, F).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.ops.conv3d_taps import same_padding


def applies(input_shape, kernel_shape, strides) -> bool:
    """Whether this form computes the call: static spatial sizes, some stride above 1, and
    every kernel size a multiple of its stride."""
    rank = len(strides)
    spatial = tuple(input_shape)[1 : 1 + rank]
    return (
        all(d is not None for d in spatial)
        and any(s > 1 for s in strides)
        and all(int(k) % s == 0 for k, s in zip(tuple(kernel_shape)[:rank], strides))
    )


def _blocks(x: tf.Tensor, strides, channels_last: int) -> tf.Tensor:
    """(N, n1*s1, ..., nr*sr, C) -> (N, n1, ..., nr, s1*...*sr*C), block offsets major."""
    rank = len(strides)
    sizes = x.shape[1 : 1 + rank]
    split = [-1]
    for n, s in zip(sizes, strides):
        split += [n // s, s]
    x = tf.reshape(x, [*split, channels_last])
    # (N, n1, s1, ..., nr, sr, C) -> (N, n1, ..., nr, s1, ..., sr, C)
    order = [0, *range(1, 2 * rank, 2), *range(2, 2 * rank + 1, 2), 2 * rank + 1]
    x = tf.transpose(x, order)
    blocks = 1
    for s in strides:
        blocks *= s
    return tf.reshape(x, [-1, *(n // s for n, s in zip(sizes, strides)), blocks * channels_last])


def _kernel_blocks(kernel: tf.Tensor, strides) -> tf.Tensor:
    """(k1, ..., kr, C, F) -> (k1/s1, ..., kr/sr, s1*...*sr*C, F), the inputs' block order."""
    rank = len(strides)
    sizes = kernel.shape[:rank]
    c, f = kernel.shape[rank:]
    split = []
    for k, s in zip(sizes, strides):
        split += [k // s, s]
    kernel = tf.reshape(kernel, [*split, c, f])
    order = [*range(0, 2 * rank, 2), *range(1, 2 * rank, 2), 2 * rank, 2 * rank + 1]
    kernel = tf.transpose(kernel, order)
    blocks = 1
    for s in strides:
        blocks *= s
    return tf.reshape(kernel, [*(k // s for k, s in zip(sizes, strides)), blocks * c, f])


def conv_space_to_depth(x: tf.Tensor, kernel: tf.Tensor, strides) -> tf.Tensor:
    """Equals `tf.nn.conv3d` / `tf.nn.conv2d` (by the rank of `strides`) with those strides and
    "same" padding, where `applies`."""
    strides = tuple(int(s) for s in strides)
    rank = len(strides)
    pads = [[0, 0]]
    for n, k, s in zip(x.shape[1 : 1 + rank], kernel.shape[:rank], strides):
        _, before, after = same_padding(int(n), int(k), s)
        pads.append([before, after])
    x = tf.pad(x, [*pads, [0, 0]])
    blocks = _blocks(x, strides, x.shape[-1])
    conv = tf.nn.conv3d if rank == 3 else tf.nn.conv2d
    return conv(blocks, _kernel_blocks(kernel, strides), [1] * (rank + 2), "VALID")
