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


def _image_and_clip():
    image = tf.zeros([1, 2, 2, 1])
    video = tf.stack([tf.zeros([2, 2, 1]), tf.ones([2, 2, 1]), 3 * tf.ones([2, 2, 1])])[None]
    return image, video


def test_pixel_identity_l2_is_eq7_norm_per_frame_as_rms():
    # Eq. 7: ||y_i - x||_2 per frame i. Frames 0, 1, 3 on a 2x2x1 image: norms 0, 2, 6, over
    # sqrt(4 values) = RMS 0, 1, 3; mean over the 3 frames = 4 / 3.
    image, video = _image_and_clip()
    np.testing.assert_allclose(losses.pixel_identity_loss(image, video), [4 / 3], rtol=1e-6)
    np.testing.assert_allclose(losses.pixel_identity_loss(image, video, "l2"), [4 / 3], rtol=1e-6)


def test_pixel_identity_l2_against_numpy_per_sample():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, [2, 4, 4, 3]).astype(np.float32)
    y = rng.uniform(-1, 1, [2, 5, 4, 4, 3]).astype(np.float32)
    d = y - x[:, None]
    norms = np.linalg.norm(d.reshape(2, 5, -1), axis=2)  # ||y_i - x||_2, one per frame
    expected = (norms / np.sqrt(4 * 4 * 3)).mean(axis=1)
    np.testing.assert_allclose(losses.pixel_identity_loss(x, y), expected, rtol=1e-5)


def test_pixel_identity_mse_form():
    # squared frame errors 0, 1, 9: mean over frames and values = 10 / 3
    image, video = _image_and_clip()
    np.testing.assert_allclose(losses.pixel_identity_loss(image, video, "mse"), [10 / 3], rtol=1e-6)


def test_pixel_identity_l2_gradient_finite_at_zero():
    x = tf.Variable(tf.zeros([1, 2, 2, 1]))
    with tf.GradientTape() as tape:
        loss = losses.pixel_identity_loss(x, tf.zeros([1, 3, 2, 2, 1]))
    assert np.all(np.isfinite(tape.gradient(loss, x)))


@pytest.mark.parametrize("form", ["l2", "mse"])
def test_pixel_identity_weight_and_form_reach_the_generator_loss(tiny_cfg, tmp_path, form):
    """Model2's generator term = omega * (Eq. 7 for x vs G_Y(x) + Eq. 7 for G_X(y) vs y),
    with the paper's omega = 100 by default, in the form the config names."""
    from idcg_tf.experiment import make_trainer

    cfg = tiny_cfg(
        "task.variant=model2", f"task.loss.pixel_identity_form={form}", "trainer.strategy=default"
    )
    assert cfg.task.loss.pixel_identity_weight == 100.0
    trainer = make_trainer(cfg, tmp_path, log=lambda line: None)
    rng = np.random.default_rng(1)
    images = tf.constant(rng.uniform(-1, 1, [2, 32, 32, 3]), tf.float32)
    clips = tf.constant(rng.uniform(-1, 1, [2, 8, 32, 32, 3]), tf.float32)
    # Training-mode outputs, as in the step (BatchNorm uses the batch's statistics).
    fake_clips = trainer.nets.image_to_video(images, training=True).numpy()
    fake_images = trainer.nets.video_to_image(clips, training=True).numpy()

    def eq7(img, vid):
        d = (vid - img[:, None]).reshape(len(img), vid.shape[1], -1)
        if form == "mse":
            return (d**2).mean(axis=(1, 2))
        return np.sqrt((d**2).mean(axis=2)).mean(axis=1)  # ||d_i||_2 / sqrt(values)

    expected = 100.0 * (eq7(images.numpy(), fake_clips) + eq7(fake_images, clips.numpy()))
    # The terms as the task combines them, before any update.
    terms = trainer.task.generator_terms(images, clips)
    np.testing.assert_allclose(terms["pixel_identity"].numpy(), expected, rtol=1e-4)


@pytest.mark.parametrize("fn", [losses.cycle_loss])
def test_zero_for_identical(fn):
    x = tf.random.normal([2, 3, 4, 4, 3])
    np.testing.assert_allclose(fn(x, x), [0.0, 0.0])


@pytest.mark.parametrize("form", ["paper", "ivgan", "four_conv"])
def test_critic_scores_of_both_in_one_call_equal_two_calls(tiny_cfg, form):
    """The critic step scores real and fake in one call (`scores_of_both`): the same scores
    and the same weight gradients of the Wasserstein term as two calls, for both critics and
    every video critic form (the critics normalise per sample)."""
    from idcg_tf.models import build_networks

    m = tiny_cfg(f"task.model.video_critic_form={form}").task.model
    nets = build_networks(m)
    image = (m.resolution, m.resolution, m.channels)
    video = (m.frames, *image)
    for critic, shape in ((nets.image_critic, image), (nets.video_critic, video)):
        real, fake = tf.random.normal([3, *shape]), tf.random.normal([3, *shape])
        with tf.GradientTape(persistent=True) as tape:
            joint = losses.scores_of_both(critic, real, fake)
            apart = critic(real), critic(fake)
            joint_loss = tf.reduce_mean(losses.wasserstein_critic_loss(*joint))
            apart_loss = tf.reduce_mean(losses.wasserstein_critic_loss(*apart))
        for a, b in zip(joint, apart):
            assert a.shape == b.shape == (3, 1)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        weights = critic.trainable_variables
        pairs = zip(tape.gradient(joint_loss, weights), tape.gradient(apart_loss, weights))
        for g_joint, g_apart in pairs:
            assert g_joint is not None and g_apart is not None
            np.testing.assert_allclose(g_joint, g_apart, rtol=1e-4, atol=1e-5)
        del tape
