"""The TFRecord schema of idcg-tf datasets.

Two record kinds, one per domain, each frame stored as an encoded PNG or JPEG string:

images (domain X), one still face per record:
    image        bytes   encoded RGB image, r x r
    height,width int64
    source       bytes   the file it came from
    identity     bytes   person id ("" when unknown)
    confidence   float   face detector confidence (1.0 when not detected)

clips (domain Y), one face clip of l frames per record:
    frames         bytes[l]  encoded RGB frames, r x r each
    num_frames     int64
    height,width   int64
    source         bytes
    identity       bytes
    frame_indices  int64[l]  frame numbers in the source video
    confidence     float[l]  detector confidence per frame

Shard names: `images-<split>-00000-of-00004.tfrecord`, `clips-<split>-...`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def _bytes(values: Sequence[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _ints(values: Sequence[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values: Sequence[float]) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def encode_png(frame: np.ndarray) -> bytes:
    """Encodes an HxWx3 uint8 array as PNG (lossless; small at 64x64)."""
    from PIL import Image

    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def image_example(
    image: np.ndarray, source: str = "", identity: str = "", confidence: float = 1.0
) -> bytes:
    """Serialises one still face (HxWx3 uint8)."""
    h, w = image.shape[:2]
    features = {
        "image": _bytes([encode_png(image)]),
        "height": _ints([h]),
        "width": _ints([w]),
        "source": _bytes([source.encode()]),
        "identity": _bytes([identity.encode()]),
        "confidence": _floats([confidence]),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def clip_example(
    frames: np.ndarray,
    source: str = "",
    identity: str = "",
    frame_indices: Sequence[int] | None = None,
    confidence: Sequence[float] | None = None,
) -> bytes:
    """Serialises one face clip (LxHxWx3 uint8)."""
    n, h, w = frames.shape[:3]
    frame_indices = list(range(n)) if frame_indices is None else list(frame_indices)
    confidence = [1.0] * n if confidence is None else list(confidence)
    if len(frame_indices) != n or len(confidence) != n:
        raise ValueError("frame_indices and confidence need one value per frame")
    features = {
        "frames": _bytes([encode_png(f) for f in frames]),
        "num_frames": _ints([n]),
        "height": _ints([h]),
        "width": _ints([w]),
        "source": _bytes([source.encode()]),
        "identity": _bytes([identity.encode()]),
        "frame_indices": _ints(frame_indices),
        "confidence": _floats(confidence),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


IMAGE_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "source": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "identity": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "confidence": tf.io.FixedLenFeature([], tf.float32, default_value=1.0),
}

CLIP_FEATURES = {
    "frames": tf.io.VarLenFeature(tf.string),
    "num_frames": tf.io.FixedLenFeature([], tf.int64),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "source": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "identity": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "frame_indices": tf.io.VarLenFeature(tf.int64),
    "confidence": tf.io.VarLenFeature(tf.float32),
}


def decode_frame(encoded: tf.Tensor, resolution: int) -> tf.Tensor:
    """Decodes one PNG/JPEG string to a float32 r x r x 3 tensor in [-1, 1]."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [resolution, resolution, 3])
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def parse_image(serialized: tf.Tensor, resolution: int) -> tf.Tensor:
    """Parses one image record into a float32 (r, r, 3) tensor in [-1, 1]."""
    parsed = tf.io.parse_single_example(serialized, IMAGE_FEATURES)
    return decode_frame(parsed["image"], resolution)


def parse_clip(serialized: tf.Tensor, resolution: int, frames: int) -> tf.Tensor:
    """Parses one clip record into a float32 (l, r, r, 3) tensor in [-1, 1]."""
    parsed = tf.io.parse_single_example(serialized, CLIP_FEATURES)
    encoded = tf.sparse.to_dense(parsed["frames"], default_value="")
    tf.debugging.assert_equal(
        tf.shape(encoded)[0], frames, message=f"clip record does not hold {frames} frames"
    )
    clip = tf.map_fn(
        lambda e: decode_frame(e, resolution),
        encoded,
        fn_output_signature=tf.TensorSpec([resolution, resolution, 3], tf.float32),
    )
    return tf.ensure_shape(clip, [frames, resolution, resolution, 3])


def shard_name(kind: str, split: str, index: int, count: int) -> str:
    return f"{kind}-{split}-{index:05d}-of-{count:05d}.tfrecord"
