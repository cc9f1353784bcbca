"""The tf.data reader: shapes, flips, determinism, exact resume positions, corrupt shards."""

import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from idcg_tf.data import reader, schema
from idcg_tf.data.synthetic import write_synthetic
from idcg_tf.errors import UserError


def _take(ds, n):
    return np.concatenate([b.numpy() for b in ds.take(n)])


def test_shapes_and_range(synthetic_data):
    clips = reader.make_dataset(synthetic_data["train_clips"], "clips", 32, 8, 3)
    images = reader.make_dataset(synthetic_data["train_images"], "images", 32, 8, 5)
    c, i = next(iter(clips)), next(iter(images))
    assert c.shape == (3, 8, 32, 32, 3) and c.dtype == tf.float32
    assert i.shape == (5, 32, 32, 3)
    assert -1.0 <= float(tf.reduce_min(c)) and float(tf.reduce_max(c)) <= 1.0


def test_a_clip_flips_as_a_whole(synthetic_data):
    common = dict(shuffle_buffer=1, repeat=False, cycle_length=1)
    plain = _take(
        reader.make_dataset(synthetic_data["train_clips"], "clips", 32, 8, 1, flip=False, **common),
        12,
    )
    flipped = _take(
        reader.make_dataset(synthetic_data["train_clips"], "clips", 32, 8, 1, flip=True, **common),
        12,
    )
    mirrored = 0
    for a, b in zip(plain, flipped):
        if not np.array_equal(a, b):
            np.testing.assert_array_equal(b, a[:, :, ::-1])  # every frame mirrored
            mirrored += 1
    assert 0 < mirrored < 12


def test_order_is_a_function_of_seed_and_position(synthetic_data):
    pattern = synthetic_data["train_images"]
    a = _take(reader.make_dataset(pattern, "images", 32, 8, 4, seed=3), 15)
    b = _take(reader.make_dataset(pattern, "images", 32, 8, 4, seed=3), 15)
    np.testing.assert_array_equal(a, b)
    other = _take(reader.make_dataset(pattern, "images", 32, 8, 4, seed=4), 15)
    assert not np.array_equal(a, other)
    # Epochs differ (reshuffled), and resuming at element k continues the same stream,
    # across epoch boundaries (24 images per epoch here).
    for start in (4, 24, 36):
        resumed = _take(
            reader.make_dataset(pattern, "images", 32, 8, 4, seed=3, start=start), 15 - start // 4
        )
        np.testing.assert_array_equal(resumed, a[start:])


def test_input_pipelines_read_disjoint_shards(synthetic_data):
    ctxs = [
        tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2
        )
        for i in range(2)
    ]
    seen = []
    for ctx in ctxs:
        ds = reader.make_dataset(
            synthetic_data["train_images"],
            "images",
            32,
            8,
            1,
            repeat=False,
            flip=False,
            input_context=ctx,
        )
        seen.append({x.tobytes() for x in _take(ds, 100)})
    assert seen[0] and seen[1] and not (seen[0] & seen[1])
    assert len(seen[0]) + len(seen[1]) == 24


def test_corrupt_shard_is_named_or_skipped(tmp_path):
    patterns = write_synthetic(tmp_path, num_images=8, num_clips=2, shards=2)
    bad = tmp_path / schema.shard_name("images", "train", 1, 2)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated shard
    ds = reader.make_dataset(patterns["images"], "images", 32, 8, 8, repeat=False, shuffle_buffer=1)
    with pytest.raises(tf.errors.OpError):
        _take(ds, 2)
    found = reader.find_corrupt_shard(patterns["images"], "images", 32, 8)
    assert found and found.startswith(str(bad))
    skipping = reader.make_dataset(
        patterns["images"], "images", 32, 8, 1, repeat=False, shuffle_buffer=1, on_corrupt="skip"
    )
    kept = _take(skipping, 100)
    assert 4 <= len(kept) < 8  # the good shard and whatever preceded the cut


def test_missing_shards_are_a_user_error(tmp_path):
    with pytest.raises(UserError, match="data.train_clips: no TFRecord shards match"):
        reader.list_shards(str(tmp_path / "x-*.tfrecord"), "data.train_clips")


@pytest.mark.parametrize("installed", [False, True], ids=["absent", "built-for-tf-2.16"])
def test_s3_paths_outside_the_io_env_say_what_to_do(monkeypatch, installed):
    # Absent: the import fails. Installed with this TF: the import only warns, its file
    # systems stay unregistered and listing fails with UnimplementedError.
    monkeypatch.setitem(
        sys.modules, "tensorflow_io", types.ModuleType("tensorflow_io") if installed else None
    )
    with pytest.raises(UserError) as raised:
        reader.make_dataset(
            "s3://bucket/images-*.tfrecord", "images", 32, 8, 2, key="data.train_images"
        )
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("data.train_images: s3://bucket/images-*.tfrecord: reading s3://")
    assert "make install-io" in message and tf.__version__ in message
