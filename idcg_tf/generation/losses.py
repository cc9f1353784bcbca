"""Losses of the VideoGAN baselines as pure functions, one value per sample, shape (N,).

The WGAN-GP terms of our generator are `idcg_tf.losses` (wasserstein_*, gradient_penalty).
Naming as there: `<kind>_critic_loss` / `<kind>_generator_loss`; "critic" is the
discriminator here.
"""

from __future__ import annotations

import tensorflow as tf


def gan_critic_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of a real/fake classifier: -log D(real) - log(1 - D(fake)) with
    D = sigmoid(logit), computed as softplus(-real) + softplus(fake) (stable for any logit).

    Reference: Goodfellow et al., "Generative Adversarial Nets", NIPS 2014, Eq. 1.
    """
    real = tf.reshape(real_logits, [-1])
    fake = tf.reshape(fake_logits, [-1])
    return tf.nn.softplus(-real) + tf.nn.softplus(fake)


def gan_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating generator loss -log D(G(z)) = softplus(-logit): the generator still gets
    a gradient when the discriminator rejects its samples confidently (Goodfellow 2014, Sec. 3),
    as VideoGAN (and DCGAN) train it."""
    return tf.nn.softplus(-tf.reshape(fake_logits, [-1]))


def mask_sparsity_loss(mask: tf.Tensor) -> tf.Tensor:
    """L1 norm of the two-stream mask, averaged over its elements: mean |m| per sample.

    VideoGAN adds lambda * ||m||_1 (lambda = 0.1) so that the static background explains
    whatever does not move. Averaging instead of summing keeps lambda's meaning independent of
    the clip size.
    """
    flat = tf.reshape(mask, [tf.shape(mask)[0], -1])
    return tf.reduce_mean(tf.abs(flat), axis=1)
