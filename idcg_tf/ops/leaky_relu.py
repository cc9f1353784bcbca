"""LeakyReLU whose gradient reads its output, not its input.

`tf.nn.leaky_relu`'s registered gradient is `LeakyReluGrad(dy, x)`, on the activation's input.
In the critics that input is a convolution's BiasAdd, so the BiasAdd has consumers besides the
LeakyReLU (one LeakyReluGrad per backward pass: two with the WGAN-GP penalty's second
derivative), and TensorFlow's graph optimizer (Grappler's remapper) cannot fold
Conv2D/Conv3D + BiasAdd + LeakyReLU into one oneDNN kernel. Worse, in TF 2.21 it tries to when
the next layer is the one-matmul convolution form (`idcg_tf.ops.conv2d_matmul`), and gives up
every fusion of the whole training step with "remapper failed: INVALID_ARGUMENT:
Mutation::Apply error: fanout '.../LeakyReluGrad' exist for missing node '.../BiasAdd'".

For a positive slope, y = leaky_relu(x) has the sign of x, so `LeakyReluGrad(dy, y)` is the same
gradient, bit for bit. Taking it from y leaves the activation the BiasAdd's only consumer: the
remapper fuses all three, and the pre-activation tensor need not be kept for the backward pass.
Every order of derivative is TF's own: the gradient of `LeakyReluGrad` with respect to `dy` is
`LeakyReluGrad` again; with respect to y it is zero, so y enters the backward pass through
`tf.stop_gradient` (without it, the outer tape of the penalty would differentiate the
activation's own op again, on its input).
"""

from __future__ import annotations

import tensorflow as tf


def leaky_relu(x: tf.Tensor, negative_slope: float = 0.2) -> tf.Tensor:
    """Equals `tf.nn.leaky_relu(x, negative_slope)`, gradients included; `negative_slope` > 0.

    Example:
        >>> leaky_relu(tf.constant([-1.0, 2.0])).numpy().tolist()
        [-0.20000000298023224, 2.0]
    """
    if not negative_slope > 0:
        raise ValueError(f"negative_slope must be positive, got {negative_slope}")
    alpha = float(negative_slope)

    @tf.custom_gradient
    def forward(x):
        y = tf.nn.leaky_relu(x, alpha)

        def backward(dy):
            return tf.raw_ops.LeakyReluGrad(gradients=dy, features=tf.stop_gradient(y), alpha=alpha)

        return y, backward

    return forward(x)
