"""The reader's s3:// path against a local S3 server (moto), in the io environment only.

`make install-io` builds that environment (.venv-io: TF 2.16 + tensorflow-io 0.37.1 + moto) and
`make test-io` runs this file there; `make test` leaves it out by its `io` marker. Run anywhere
else, it fails with a one-line reason instead of skipping.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.io

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "idcg-records"
RESOLUTION, FRAMES = 16, 4

# Reads through tensorflow-io in a child process: tensorflow-io 0.37.1 aborts at interpreter
# exit once its S3 client exists ("pure virtual method called", exit status 134,
# tensorflow/io#2039, fixed upstream after the last release), so the child leaves with
# os._exit once its arrays are saved, and pytest's own exit status stays meaningful.
READ_BACK = """
import os, sys
import numpy as np
from idcg_tf.data import reader
s3, local, out = sys.argv[1:4]
arrays = {"paths": np.array(reader.list_shards(s3 + "images-*.tfrecord"))}
for kind in ("images", "clips"):
    plain = reader.make_dataset(s3 + kind + "-*.tfrecord", kind, %(r)d, %(l)d, 1,
                                shuffle_buffer=1, flip=False, repeat=False, cycle_length=1)
    arrays[kind] = np.concatenate([b.numpy() for b in plain])
    for name, root in (("s3", s3), ("local", local)):
        full = reader.make_dataset(root + kind + "-*.tfrecord", kind, %(r)d, %(l)d, 3,
                                   shuffle_buffer=4, seed=5, start=2)
        arrays[kind + "_shuffled_" + name] = np.concatenate([b.numpy() for b in full.take(4)])
np.savez(out, **arrays)
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
""" % {"r": RESOLUTION, "l": FRAMES}  # noqa: UP031 (a template with braces of its own)


def _require_io_env() -> None:
    missing = [m for m in ("tensorflow_io", "moto", "boto3") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(
            f"tests/test_s3_io.py needs the io environment ({', '.join(missing)} missing "
            f"here): run `make install-io && make test-io`",
            pytrace=False,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on a free local port, for this module."""
    _require_io_env()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not start on port {port}", pytrace=False)
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _write_shards(folder: Path) -> dict:
    """Two image and two clip shards of random pixels; returns what went in, in shard order."""
    import tensorflow as tf

    from idcg_tf.data import schema

    rng = np.random.default_rng(0)
    written = {
        "images": rng.integers(0, 256, (6, RESOLUTION, RESOLUTION, 3), np.uint8),
        "clips": rng.integers(0, 256, (4, FRAMES, RESOLUTION, RESOLUTION, 3), np.uint8),
    }
    make = {"images": schema.image_example, "clips": schema.clip_example}
    for kind, items in written.items():
        half = len(items) // 2
        for index, part in enumerate((items[:half], items[half:])):
            shard = folder / schema.shard_name(kind, "train", index, 2)
            with tf.io.TFRecordWriter(str(shard)) as writer:
                for item in part:
                    writer.write(make[kind](item, source="test", identity="p"))
    return written


def test_reader_reads_s3_shards_from_a_local_server(s3_endpoint, tmp_path):
    import boto3

    local = tmp_path / "records"
    local.mkdir()
    written = _write_shards(local)
    keys = dict(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1"
    )
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=keys["AWS_REGION"],
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    for shard in sorted(local.iterdir()):
        client.upload_file(str(shard), BUCKET, f"celeb/{shard.name}")

    out = tmp_path / "read.npz"
    # tensorflow-io 0.37.1's S3 file system reads S3_ENDPOINT (scheme included: http here) and
    # the AWS SDK's credential variables; it ignores S3_USE_HTTPS / S3_VERIFY_SSL.
    env = dict(
        os.environ, S3_ENDPOINT=s3_endpoint, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **keys
    )
    child = subprocess.run(
        [sys.executable, "-c", READ_BACK, f"s3://{BUCKET}/celeb/", f"{local}/", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    read = np.load(out)

    assert list(read["paths"]) == [
        f"s3://{BUCKET}/celeb/images-train-0000{i}-of-00002.tfrecord" for i in range(2)
    ]
    for kind, items in written.items():
        np.testing.assert_array_equal(read[kind], items.astype(np.float32) / 127.5 - 1.0)
        # The whole pipeline (stateless shuffle, flips, resume offset) is the same stream from
        # s3:// as from a local folder.
        assert read[kind + "_shuffled_s3"].shape[0] == 12
        np.testing.assert_array_equal(read[kind + "_shuffled_s3"], read[kind + "_shuffled_local"])
