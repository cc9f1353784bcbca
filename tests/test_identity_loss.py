"""Model3: the FaceNet identity loss (Eq. 8) trains the generators."""

import numpy as np
import pytest
import tensorflow as tf

from idcg_tf.experiment import make_trainer
from idcg_tf.identity import FaceNetEmbedder
from idcg_tf.losses import facenet_identity_loss
from idcg_tf.models import ImageToVideo, VideoToImage

TINY = dict(encoder_widths=(4, 8, 8, 16), decoder_widths=(8, 8, 4), residual_blocks=1)


@pytest.fixture(scope="module")
def embedder():
    return FaceNetEmbedder()


def test_gradients_reach_generators_and_are_finite(embedder):
    g_y, g_x = ImageToVideo(frames=4, **TINY), VideoToImage(frames=4, **TINY)
    images = tf.random.uniform([2, 32, 32, 3], -1, 1, seed=1)
    clips = tf.random.uniform([2, 4, 32, 32, 3], -1, 1, seed=2)
    g_y(images), g_x(clips)
    variables = g_y.trainable_variables + g_x.trainable_variables
    with tf.GradientTape() as tape:
        per_sample = facenet_identity_loss(
            embedder, images, g_y(images, training=True), g_x(clips, training=True), clips
        )
        loss = tf.reduce_mean(per_sample)
    grads = tape.gradient(loss, variables)
    assert per_sample.shape == (2,)
    assert 0 < float(loss) < 4  # two distances between unit vectors, each <= 2
    assert all(g is not None for g in grads)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    # Both translators get a signal (image->video through G_Y, video->image through G_X).
    norm_y = sum(float(tf.norm(g)) for g in grads[: len(g_y.trainable_variables)])
    norm_x = sum(float(tf.norm(g)) for g in grads[len(g_y.trainable_variables) :])
    assert norm_y > 0 and norm_x > 0
    assert not embedder.trainable_weights  # FaceNet stays frozen


def test_loss_averages_all_pairs(embedder):
    """The image->video term is the mean over frames of ||F(frame) - F(image)||: a clip made
    of the input image itself scores 0 on that term."""
    images = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=3)
    same = tf.repeat(images[:, None], 4, axis=1)
    other = tf.random.uniform([1, 4, 32, 32, 3], -1, 1, seed=4)
    # fake_images == first real frame for the second term, so only frames 2-4 contribute.
    zero = facenet_identity_loss(embedder, images, same, images, same)
    assert float(zero[0]) < 1e-3
    mixed = facenet_identity_loss(embedder, images, other, images, same)
    every_second = facenet_identity_loss(embedder, images, other, images, same, frame_step=2)
    assert float(mixed[0]) > 0.05 and float(every_second[0]) > 0.05


@pytest.mark.slow  # ~40 s: Model3 trained with the FaceNet loss; make test-slow (CI)
def test_model3_trains(tiny_cfg, tmp_path):
    cfg = tiny_cfg("task.variant=model3", "trainer.steps=2", "task.loss.facenet_frame_step=4")
    metrics = make_trainer(cfg, tmp_path, log=lambda line: None).train(samples=())
    assert np.isfinite(metrics["generator/facenet_identity"])
    assert metrics["generator/facenet_identity"] > 0
