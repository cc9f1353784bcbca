"""Losses against values computed by hand."""

import numpy as np
import pytest
import tensorflow as tf

from idcg_tf import losses


def test_wasserstein_terms():
    real = tf.constant([[2.0], [1.0]])
    fake = tf.constant([[0.5], [3.0]])
    np.testing.assert_allclose(losses.wasserstein_critic_loss(real, fake), [-1.5, 2.0])
    np.testing.assert_allclose(losses.wasserstein_generator_loss(fake), [-0.5, -3.0])


def test_interpolate_per_sample():
    real = tf.ones([2, 2, 2, 1])
    fake = tf.zeros([2, 2, 2, 1])
    x_hat = losses.interpolate(real, fake, tf.constant([0.25, 1.0]))
    np.testing.assert_allclose(x_hat[0], np.full([2, 2, 1], 0.25))
    np.testing.assert_allclose(x_hat[1], np.ones([2, 2, 1]))


def test_gradient_penalty_of_linear_critic():
    # C(x) = sum(w * x): the gradient is w everywhere, so the penalty is (||w|| - 1)^2.
    w = tf.constant([[3.0, 4.0], [0.0, 0.0]])  # ||w|| = 5

    def critic(x):
        return tf.reduce_sum(x * w, axis=[1, 2])[:, None]

    real = tf.random.normal([3, 2, 2])
    fake = tf.random.normal([3, 2, 2])
    gp = losses.gradient_penalty(critic, real, fake, tf.constant([0.1, 0.5, 0.9]))
    np.testing.assert_allclose(gp, [16.0, 16.0, 16.0], rtol=1e-6)


def test_gradient_penalty_reaches_critic_weights():
    # The penalty depends on the critic's weights through a second derivative.
    w = tf.Variable([[2.0, 0.0]])

    def critic(x):
        return tf.reduce_sum(tf.square(x) * w, axis=1)[:, None]

    real, fake = tf.constant([[1.0, 1.0]]), tf.constant([[0.0, 0.0]])
    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(critic, real, fake, tf.constant([0.5]))
    # x_hat = (0.5, 0.5); grad = 2 w x_hat = (w1, 0) = (2, 0); gp = (2 - 1)^2 = 1
    np.testing.assert_allclose(gp, [1.0], rtol=1e-5)
    # d gp / d w1 = 2 (|g| - 1) * d|g|/dw1 = 2 * 1 * (2 * 0.5) = 2
    np.testing.assert_allclose(tape.gradient(gp, w), [[2.0, 0.0]], rtol=1e-5)


def test_cycle_loss_is_per_sample_l1_mean():
    a = tf.constant([[[1.0, -1.0]], [[0.0, 0.0]]])
    b = tf.constant([[[0.0, 1.0]], [[0.5, 0.5]]])
    np.testing.assert_allclose(losses.cycle_loss(a, b), [1.5, 0.5])


def test_pixel_identity_compares_every_frame():
    image = tf.zeros([1, 2, 2, 1])
    video = tf.stack([tf.zeros([2, 2, 1]), tf.ones([2, 2, 1]), 3 * tf.ones([2, 2, 1])])[None]
    # frame errors 0, 1, 9 (squared): mean over frames and pixels = 10 / 3
    np.testing.assert_allclose(losses.pixel_identity_loss(image, video), [10 / 3], rtol=1e-6)


@pytest.mark.parametrize("fn", [losses.cycle_loss])
def test_zero_for_identical(fn):
    x = tf.random.normal([2, 3, 4, 4, 3])
    np.testing.assert_allclose(fn(x, x), [0.0, 0.0])
