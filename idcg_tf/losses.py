"""Every loss term of both tasks as a pure function of tensors: the WGAN-GP, cycle, pixel and
FaceNet identity terms of IdCycleGAN (paper Eq. 1, 5, 7, 8) and the GAN and mask terms of the
VideoGAN baselines (Sec. 4.2). Each task combines its own terms (idcg_tf.translation.task,
idcg_tf.generation.task).

Each returns one value per sample, shape (N,), so that the training step can average them over
the global batch with `tf.nn.compute_average_loss` (correct under any number of replicas).
Naming: `<kind>_critic_loss` / `<kind>_generator_loss` for the adversarial terms; "critic" is
the discriminator of the GAN baselines.
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.config import PIXEL_IDENTITY_FORMS
from idcg_tf.identity import facenet_distance


def _per_sample_mean(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def wasserstein_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """C(fake) - C(real) per sample (Eq. 1 without the penalty); the critic minimises it."""
    return tf.reshape(fake_scores, [-1]) - tf.reshape(real_scores, [-1])


def wasserstein_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """-C(G(x)) per sample: the generator raises the critic's score of its outputs."""
    return -tf.reshape(fake_scores, [-1])


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


def interpolate(real: tf.Tensor, fake: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """x_hat = eps * real + (1 - eps) * fake with one eps in [0, 1] per sample."""
    shape = tf.concat([tf.shape(real)[:1], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
    eps = tf.reshape(tf.cast(eps, real.dtype), shape)
    return eps * real + (1.0 - eps) * fake


def scores_of_both(critic, real: tf.Tensor, fake: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """critic(real), critic(fake) from ONE call on both batches stacked: one forward and
    backward pass at twice the batch keeps the CPU's convolution kernels busier than two
    (docs/performance.md). Only for a critic that scores each sample on its own (the WGAN-GP
    critics: LayerNorm), where the scores are the same as two calls; not for a BatchNorm
    discriminator (`VideoDiscriminator`), whose batch statistics would then span both."""
    n = tf.shape(real)[0]
    scores = critic(tf.concat([real, fake], axis=0))
    return scores[:n], scores[n:]


def gradient_penalty(
    critic, real: tf.Tensor, fake: tf.Tensor, eps: tf.Tensor, scale=1.0
) -> tf.Tensor:
    """(||grad_x C(x_hat)||_2 - 1)^2 per sample (Gulrajani et al. 2017; paper Eq. 1).

    The inner tape is nested inside the caller's tape, so the penalty's own gradient with
    respect to the critic's weights (a second derivative) reaches the critic update.
    `scale` (mixed_float16: the loss scale) multiplies the scores before the input gradient
    and divides it after, in float32, so that float16 gradients inside the critic do not
    underflow; the penalty is float32 whatever the critic computes in.
    """
    x_hat = interpolate(real, fake, eps)
    dtype = tf.float64 if real.dtype == tf.float64 else tf.float32  # at least float32
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        scores = tf.cast(critic(x_hat), dtype) * scale
    grads = tf.cast(tape.gradient(scores, x_hat), dtype) / scale
    norms = tf.sqrt(
        tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(grads)[0], -1])), axis=1) + 1e-12
    )
    return tf.square(norms - 1.0)


def cycle_loss(original: tf.Tensor, reconstructed: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per sample between an input and its round trip (Eq. 5, L1)."""
    return _per_sample_mean(tf.abs(reconstructed - original))


def pixel_identity_loss(images: tf.Tensor, videos: tf.Tensor, form: str = "l2") -> tf.Tensor:
    """Pixel identity term of Eq. 7 per sample: an image against every frame of a clip.

    `images` (N, r, r, C) is compared with each of the l frames of `videos` (N, l, r, r, C):
    used both as (x, G_Y(x)) and as (G_X(y), y).

    form "l2" (the paper): ||frame_i - image||_2 per frame, divided by sqrt(r*r*C) - the
    root-mean-square difference - so that the term sits on the cycle term's per-value scale
    whatever the resolution; averaged over the l frames.
    form "mse": the mean squared difference over frames and values (our earlier form).
    """
    diff = videos - images[:, tf.newaxis]
    if form == "mse":
        return _per_sample_mean(tf.square(diff))
    if form != "l2":
        raise ValueError(
            f"pixel identity form: expected one of {PIXEL_IDENTITY_FORMS}, got {form!r}"
        )
    shape = tf.shape(diff)
    per_frame = tf.reshape(tf.square(diff), [shape[0], shape[1], -1])
    # The epsilon keeps the gradient finite where a frame equals the image exactly (the
    # derivative of sqrt at 0 is infinite); 1e-12 moves a 1e-3 RMS by under 1e-6 relative.
    rms = tf.sqrt(tf.reduce_mean(per_frame, axis=2) + 1e-12)
    return tf.reduce_mean(rms, axis=1)


def mask_sparsity_loss(mask: tf.Tensor) -> tf.Tensor:
    """L1 norm of the two-stream mask, averaged over its elements: mean |m| per sample.

    VideoGAN adds lambda * ||m||_1 (lambda = 0.1) so that the static background explains
    whatever does not move. Averaging instead of summing keeps lambda's meaning independent of
    the clip size.
    """
    return _per_sample_mean(tf.abs(mask))


def facenet_identity_loss(
    embedder, images, fake_clips, fake_images, clips, frame_step: int = 1
) -> tf.Tensor:
    """Per-sample identity loss: mean over frames i of ||F(G_Y(x)_i) - F(x)||_2 plus mean over
    frames of ||F(G_X(y)) - F(y_i)||_2, on L2-normalised FaceNet embeddings.

    As the paper (after FaceNet's video-to-video verification) every (image, frame) pair of a
    clip counts; `frame_step` > 1 embeds every k-th frame only, to save compute. All faces go
    through FaceNet in one batch; the real inputs' embeddings carry no gradient.
    """
    n = tf.shape(images)[0]
    fake_frames = fake_clips[:, ::frame_step]
    real_frames = clips[:, ::frame_step]
    frames = tf.shape(fake_frames)[1]
    size = images.shape[1:]

    def flat(v):
        return tf.reshape(v, tf.concat([[-1], tf.shape(v)[2:]], axis=0))

    batch = tf.concat(
        [
            tf.stop_gradient(images),
            fake_images,
            flat(fake_frames),
            tf.stop_gradient(flat(real_frames)),
        ],
        axis=0,
    )
    batch = tf.ensure_shape(batch, [None, *size])
    emb = embedder(batch)
    emb_x, emb_fake_x = emb[:n], emb[n : 2 * n]
    emb_fake_frames = tf.reshape(emb[2 * n : 2 * n + n * frames], [n, frames, -1])
    emb_real_frames = tf.reshape(emb[2 * n + n * frames :], [n, frames, -1])
    emb_x, emb_real_frames = tf.stop_gradient(emb_x), tf.stop_gradient(emb_real_frames)
    image_to_video = tf.reduce_mean(facenet_distance(emb_fake_frames, emb_x[:, tf.newaxis]), axis=1)
    video_to_image = tf.reduce_mean(
        facenet_distance(emb_fake_x[:, tf.newaxis], emb_real_frames), axis=1
    )
    return image_to_video + video_to_image
