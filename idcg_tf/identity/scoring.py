"""The FaceNet score (paper Sec. 4.3, Eq. 8, Table 1): translate faces one way, embed input and
translation with FaceNet, and measure how far apart they are.

Pure functions of numpy arrays and the translators; `idcg_tf.evaluation` builds its tables on
them, and a training loop can call `facenet_scores` on a fixed batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

DIRECTIONS = ("image_to_video", "video_to_image")
SCORE_KEYS = tuple(f"facenet_score_{d}" for d in DIRECTIONS)
# Same-person threshold on the L2 distance of normalised FaceNet embeddings. FaceNet's published
# thresholds are on the *squared* L2 distance (Schroff et al. 2015, Fig. 1: 1.1; insightface's
# LFW cross-validation: 1.24); 1.1 on L2 is 1.21 squared, inside that range.
DEFAULT_THRESHOLD = 1.1
THRESHOLD_SOURCE = (
    "L2 distance of normalised FaceNet embeddings; 1.1 L2 = 1.21 squared L2, inside the 1.1-1.24 "
    "range of FaceNet's LFW verification thresholds (which are on squared L2)"
)

Embed = Callable[[np.ndarray], np.ndarray]


def image_to_video_distances(image_embeddings, fake_clip_embeddings) -> np.ndarray:
    """Per sample, the mean over the generated frames of ||F(G_Y(x)_i) - F(x)||_2 (Eq. 8).

    Args:
        image_embeddings: (N, D) embeddings of the input images.
        fake_clip_embeddings: (N, L, D) embeddings of every frame of their translations.
    Returns:
        (N,) distances.
    """
    x = np.asarray(image_embeddings, np.float64)
    fake = np.asarray(fake_clip_embeddings, np.float64)
    return np.linalg.norm(fake - x[:, np.newaxis], axis=-1).mean(axis=1)


def video_to_image_distances(fake_image_embeddings, clip_embeddings) -> np.ndarray:
    """Per sample, the mean over the input frames of ||F(G_X(y)) - F(y_i)||_2 (Eq. 8).

    Args:
        fake_image_embeddings: (N, D) embeddings of the translated images.
        clip_embeddings: (N, L, D) embeddings of every frame of the input clips.
    Returns:
        (N,) distances.
    """
    return image_to_video_distances(fake_image_embeddings, clip_embeddings)


def facenet_score(distances) -> float:
    """The FaceNet score of Table 1: the mean per-sample distance (lower keeps identity better)."""
    distances = np.asarray(distances, np.float64)
    if distances.size == 0:
        raise ValueError("facenet_score of no samples")
    return float(distances.mean())


def compiled_embedder(embedder) -> Embed:
    """The embedder as one traced function: on CPU ~30% faster than eager calls, and traced
    once for any batch and face size (a FaceNet trace takes seconds)."""
    return tf.function(
        lambda faces: embedder(faces),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
    )


def embed_in_chunks(embed: Embed, faces: np.ndarray, chunk: int) -> np.ndarray:
    """Embeddings of (N, r, r, 3) faces, `chunk` faces per call."""
    out = [
        np.asarray(embed(tf.constant(faces[i : i + chunk]))) for i in range(0, len(faces), chunk)
    ]
    return np.concatenate(out).astype(np.float32)


class Translation(NamedTuple):
    """One direction's translation of a batch and its per-sample FaceNet distances; the input
    and output embeddings are per frame on the clip side, (N, L, D), else (N, D)."""

    distances: np.ndarray
    translated: np.ndarray
    reconstructed: np.ndarray
    input_embeddings: np.ndarray
    output_embeddings: np.ndarray


def translate_and_score(
    nets, embed: Embed, inputs: np.ndarray, direction: str, chunk: int, training: bool = False
) -> Translation:
    """Translates `inputs` (images for "image_to_video", clips for "video_to_image") with
    `nets` (anything with `image_to_video` and `video_to_image` translators), back again, and
    scores the translation with Eq. 8."""
    forward, backward = nets.image_to_video, nets.video_to_image
    if direction == DIRECTIONS[1]:
        forward, backward = backward, forward
    translated = np.asarray(forward(inputs, training=training))
    reconstructed = np.asarray(backward(translated, training=training))
    images, clips = (inputs, translated) if direction == DIRECTIONS[0] else (translated, inputs)
    n, frames = clips.shape[:2]
    emb = embed_in_chunks(
        embed, np.concatenate([images, clips.reshape(-1, *images.shape[1:])]), chunk
    )
    image_emb, clip_emb = emb[:n], emb[n:].reshape(n, frames, -1)
    distances = image_to_video_distances(image_emb, clip_emb)
    emb_in, emb_out = (image_emb, clip_emb) if direction == DIRECTIONS[0] else (clip_emb, image_emb)
    return Translation(distances, translated, reconstructed, emb_in, emb_out)


def facenet_scores(
    nets,
    embedder,
    images,
    clips,
    batch_size: int = 16,
    embed_batch: int = 64,
    training: bool = False,
) -> dict:
    """FaceNet scores (Table 1) of the translations of `images` (N, r, r, 3) and `clips`
    (M, l, r, r, 3) in [-1, 1]: {"facenet_score_image_to_video", "facenet_score_video_to_image"}.

    `embedder` is a `FaceNetEmbedder` (or any callable with its contract; wrap it once with
    `compiled_embedder` when calling this repeatedly on a CPU). `training=True` normalises the
    generators with batch statistics (see `idcg_tf.evaluation.BATCHNORM_MODES`).
    """
    out = {}
    for key, data, direction in zip(SCORE_KEYS, (images, clips), DIRECTIONS):
        data = np.asarray(data, np.float32)
        distances = [
            translate_and_score(
                nets, embedder, data[i : i + batch_size], direction, embed_batch, training
            ).distances
            for i in range(0, len(data), batch_size)
        ]
        out[key] = facenet_score(np.concatenate(distances))
    return out
