"""Model3's FaceNet identity loss (paper Eq. 8)."""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.identity.facenet import FaceNetEmbedder, facenet_distance


def facenet_identity_loss(embedder, images, fake_clips, fake_images, clips,
                          frame_step: int = 1) -> tf.Tensor:
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

    batch = tf.concat([tf.stop_gradient(images), fake_images, flat(fake_frames),
                       tf.stop_gradient(flat(real_frames))], axis=0)
    batch = tf.ensure_shape(batch, [None, *size])
    emb = embedder(batch)
    emb_x, emb_fake_x = emb[:n], emb[n:2 * n]
    emb_fake_frames = tf.reshape(emb[2 * n:2 * n + n * frames], [n, frames, -1])
    emb_real_frames = tf.reshape(emb[2 * n + n * frames:], [n, frames, -1])
    emb_x, emb_real_frames = tf.stop_gradient(emb_x), tf.stop_gradient(emb_real_frames)
    image_to_video = tf.reduce_mean(
        facenet_distance(emb_fake_frames, emb_x[:, tf.newaxis]), axis=1)
    video_to_image = tf.reduce_mean(
        facenet_distance(emb_fake_x[:, tf.newaxis], emb_real_frames), axis=1)
    return image_to_video + video_to_image


def facenet_identity_loss_from_config(loss_cfg):
    """The identity term for the trainer: (images, fake_clips, fake_images, clips) -> (N,).

    Creates the frozen FaceNet once; call inside `strategy.scope()`."""
    embedder = FaceNetEmbedder(weights_path=loss_cfg.facenet_weights or None, name="facenet")
    step = loss_cfg.facenet_frame_step

    def identity_loss(images, fake_clips, fake_images, clips):
        return facenet_identity_loss(embedder, images, fake_clips, fake_images, clips, step)

    identity_loss.embedder = embedder
    return identity_loss
