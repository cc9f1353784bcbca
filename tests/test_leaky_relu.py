"""The critics' LeakyReLU (`idcg_tf.ops.leaky_relu`): TF's values and derivatives, and the
graph optimizer's fusions kept in the critic step."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from idcg_tf.ops.leaky_relu import leaky_relu


def _penalty_step(activation):
    """A conv + bias + activation + conv net through a WGAN-GP-style step: the loss holds the
    squared input gradient, so the kernel gradients hold the activation's second derivative."""
    k0 = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 3, 8)), tf.float32)
    b0 = tf.constant(np.random.default_rng(1).normal(size=(8,)), tf.float32)
    k1 = tf.constant(np.random.default_rng(2).normal(size=(3, 3, 8, 4)), tf.float32)

    @tf.function
    def step(x):
        with tf.GradientTape() as outer:
            outer.watch([k0, b0, k1])
            with tf.GradientTape() as inner:
                inner.watch(x)
                h = activation(tf.nn.bias_add(tf.nn.conv2d(x, k0, 1, "SAME"), b0))
                y = tf.reduce_sum(tf.sin(tf.nn.conv2d(h, k1, 2, "SAME")))
            dx = inner.gradient(y, x)
            loss = y + tf.reduce_sum(dx * dx)
        return [h, dx, *outer.gradient(loss, [k0, b0, k1])]

    return step


def test_values_and_derivatives_equal_tf_leaky_relu():
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 8, 8, 3)), tf.float32)
    x = tf.tensor_scatter_nd_update(x, [[0, 0, 0, 0]], [0.0])  # the kink itself
    ours = _penalty_step(lambda t: leaky_relu(t, 0.2))(x)
    theirs = _penalty_step(lambda t: tf.nn.leaky_relu(t, 0.2))(x)
    # The gradient formula is the same by construction; only the forward kernels differ (ours
    # fused with the convolution), which could round differently on another CPU. Equal here.
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    assert float(tf.reduce_max(tf.abs(ours[2]))) > 0  # the second derivative reached k0
    with pytest.raises(ValueError, match="negative_slope"):
        leaky_relu(x, 0.0)


_CRITIC_STEP = textwrap.dedent(
    """
    import tensorflow as tf
    from idcg_tf.models.critics import ImageCritic

    critic = ImageCritic([8, 16, 32, 64])
    critic.build((None, 32, 32, 3))
    # The mix under which TF 2.21's remapper used to fail: first layer TF's Conv2D, the next
    # one the one-matmul form (the autotuner picks such mixes at some batch sizes).
    for conv, impl in zip(critic.convs, ["stock", "custom", "custom", "custom"]):
        conv.impl = impl

    @tf.function
    def step(x):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = tf.reduce_sum(critic(x, training=True))
            dx = inner.gradient(score, x)
            loss = score + tf.reduce_sum(dx * dx)
        return outer.gradient(loss, critic.trainable_variables)

    step(tf.random.normal([4, 32, 32, 3]))
    """
)


def test_the_critic_step_keeps_the_conv_bias_leaky_relu_fusion():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "remapper=2"}
    proc = subprocess.run(
        [sys.executable, "-c", _CRITIC_STEP], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "remapper failed" not in proc.stderr, proc.stderr[-2000:]
    assert "Fuse Conv2D with BiasAdd and LeakyRelu" in proc.stderr, proc.stderr[-2000:]
