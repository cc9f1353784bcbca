"""tf.data input pipelines over TFRecord shards (schema: `idcg_tf.data.schema`).

Shards are read interleaved, parsed and decoded in parallel, scaled to [-1, 1], flipped at random
(one flip for every frame of a clip), shuffled, repeated, batched with `drop_remainder` (fixed
shapes: no retracing) and prefetched, all AUTOTUNEd. Paths may be local, gs:// (native) or
s3:// / hdfs:// / az:// through tensorflow-io, which needs its own environment (`make install-io`).
"""

from __future__ import annotations

import tensorflow as tf

from idcg_tf.data import schema
from idcg_tf.errors import UserError

AUTOTUNE = tf.data.AUTOTUNE
_IO_SCHEMES = ("s3://", "hdfs://", "az://", "azfs://")


def _io_unavailable(key: str, path: str) -> UserError:
    scheme = path.split("://")[0]
    return UserError(
        f"{key}: {path}: reading {scheme}:// paths needs tensorflow-io, whose last "
        f"release (0.37.1) loads only with TensorFlow 2.16 (this is {tf.__version__}):"
        " run `make install-io` and use .venv-io (docs/data.md, Cloud storage)"
    )


def _ensure_filesystem(path: str, key: str) -> None:
    """Loads tensorflow-io's file systems for the schemes TensorFlow lacks."""
    if path.startswith(_IO_SCHEMES):
        try:
            import tensorflow_io  # noqa: F401  (registers the file systems)
        except Exception:  # absent, or built against another TF (NotFoundError, ImportError)
            raise _io_unavailable(key, path) from None


def list_shards(pattern: str, key: str = "data") -> list[str]:
    """Sorted shard paths matching a glob (or a comma-separated list of globs)."""
    if not pattern:
        raise UserError(f"{key}: no TFRecord path given")
    paths = []
    for part in pattern.split(","):
        part = part.strip()
        _ensure_filesystem(part, key)
        try:
            paths += tf.io.gfile.glob(part)
        except tf.errors.UnimplementedError:  # tensorflow-io imported but its plugin did not load
            raise _io_unavailable(key, part) from None
        except tf.errors.OpError as exc:
            raise UserError(f"{key}: cannot list {part}: {exc.message}") from None
    if not paths:
        raise UserError(f"{key}: no TFRecord shards match {pattern}")
    return sorted(set(paths))


def _flip(example: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirrors width with probability 1/2; one draw per element, so a clip flips as a whole.
    Stateless (seeded by the element's epoch and position), so a resumed run sees the same
    flips."""
    coin = tf.random.stateless_uniform([], seed=seed)
    return tf.cond(coin < 0.5, lambda: tf.reverse(example, axis=[-2]), lambda: example)


def count_records(paths: list[str]) -> int:
    """Records in the given shards (reads them, parses nothing)."""
    ds = tf.data.TFRecordDataset(paths, num_parallel_reads=min(4, len(paths)))
    return int(ds.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def make_dataset(
    pattern: str,
    kind: str,
    resolution: int,
    frames: int,
    batch_size: int,
    *,
    shuffle_buffer: int = 256,
    seed: int = 0,
    flip: bool = True,
    cycle_length: int = 4,
    repeat: bool = True,
    on_corrupt: str = "error",
    start: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    key: str = "data",
) -> tf.data.Dataset:
    """A batched dataset of images (N, r, r, 3) or clips (N, l, r, r, 3) in [-1, 1].

    The element order is a pure function of (seed, epoch, position): every epoch is shuffled
    with its own seed, so a run resumed at element `start` sees exactly what an uninterrupted
    run would have (it counts the shards' records, then skips serialized records: no decoding).

    Args:
        pattern: glob of shards (comma-separated globs allowed).
        kind: "images" or "clips".
        batch_size: per-replica batch when `input_context` is given, else the batch.
        on_corrupt: "error" fails on a bad record (see `find_corrupt_shard` to name it),
            "skip" drops bad records and logs each.
        start: elements (not batches) this input pipeline has already delivered.
        input_context: from `strategy.distribute_datasets_from_function`; each input pipeline
            then reads its own subset of the shards.
    """
    if kind not in ("images", "clips"):
        raise ValueError(f"kind must be images or clips, got {kind!r}")
    paths, record_shard = _pipeline_paths(list_shards(pattern, key), input_context)
    first_epoch, offset = 0, 0
    if start and repeat:
        per_epoch = count_records(paths)
        if record_shard:
            n, i = record_shard
            per_epoch = len(range(i, per_epoch, n))
        if per_epoch == 0:
            raise UserError(f"{key}: the shards matching {pattern} hold no records")
        first_epoch, offset = divmod(start, per_epoch)
    epoch = _epoch_fn(
        paths, seed, shuffle_buffer, cycle_length, record_shard, on_corrupt, first_epoch, offset
    )
    last = tf.int64.max if repeat else 1
    ds = tf.data.Dataset.range(first_epoch, last).flat_map(epoch)

    def decode(element_seed, record):
        if kind == "images":
            x = schema.parse_image(record, resolution)
        else:
            x = schema.parse_clip(record, resolution, frames)
        return _flip(x, element_seed) if flip else x

    ds = ds.map(decode, num_parallel_calls=AUTOTUNE, deterministic=True)
    if on_corrupt == "skip":
        ds = ds.ignore_errors(log_warning=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def _pipeline_paths(paths: list[str], input_context) -> tuple[list[str], tuple | None]:
    """This input pipeline's shards and, when there are fewer shards than pipelines, all of
    them with the record shard (n, i) it reads instead."""
    if input_context and input_context.num_input_pipelines > 1:
        n, i = input_context.num_input_pipelines, input_context.input_pipeline_id
        if len(paths) >= n:
            return paths[i::n], None
        return paths, (n, i)
    return paths, None


def _epoch_fn(paths, seed, shuffle_buffer, cycle_length, record_shard, on_corrupt, first, offset):
    """epoch(e) -> the (element seed, serialized record) pairs of epoch e, in their seeded
    order; epoch `first` starts `offset` records in."""
    shuffle = shuffle_buffer > 1

    def read(path):
        records = tf.data.TFRecordDataset(path, buffer_size=1 << 20)
        # A truncated shard ends early instead of failing the run.
        return records.ignore_errors(log_warning=True) if on_corrupt == "skip" else records

    def epoch(e):
        # Stateless shuffles keyed by (seed, epoch): tf.data's own shuffle takes no seed tensor.
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), e])
        files = tf.constant(paths)
        if shuffle:
            files = tf.random.experimental.stateless_shuffle(files, seed=epoch_seed)
        files = tf.data.Dataset.from_tensor_slices(files)
        records = files.interleave(
            read,
            cycle_length=min(cycle_length, len(paths)),
            num_parallel_calls=AUTOTUNE,
            deterministic=True,
        )
        if record_shard:
            records = records.shard(*record_shard)
        if shuffle:  # permute blocks of compact serialized records, before decoding
            records = (
                records.batch(shuffle_buffer)
                .enumerate()
                .map(
                    lambda j, block: tf.random.experimental.stateless_shuffle(
                        block, seed=tf.random.experimental.stateless_fold_in(epoch_seed, -1 - j)
                    )
                )
            )
            records = records.unbatch()
        records = records.enumerate().map(
            lambda i, r: (tf.random.experimental.stateless_fold_in(epoch_seed, i), r)
        )
        return records.skip(
            tf.where(e == first, tf.constant(offset, tf.int64), tf.constant(0, tf.int64))
        )

    return epoch


def find_corrupt_shard(pattern: str, kind: str, resolution: int, frames: int) -> str | None:
    """Reads every shard alone; returns 'path: reason' for the first that fails, else None.

    Run after the pipeline failed, so that the error can name the shard at fault.
    """
    for path in list_shards(pattern):
        ds = make_dataset(
            path,
            kind,
            resolution,
            frames,
            1,
            shuffle_buffer=1,
            flip=False,
            repeat=False,
            cycle_length=1,
        )
        try:
            for _ in ds:
                pass
        except tf.errors.OpError as exc:
            reason = exc.message.strip().splitlines()[0] if exc.message else type(exc).__name__
            return f"{path}: {reason}"
    return None


def training_datasets(
    strategy: tf.distribute.Strategy,
    cfg,
    global_batch: int,
    start_step: int = 0,
    batches_per_step: int = 1,
    streams: tuple = (("images", 0), ("clips", 1)),
):
    """The distributed dataset of the training split, positioned after `start_step` steps of
    `batches_per_step` global batches each (exact resume). `streams` names the kinds read and
    the seed offset of each: (images, clips) batches by default, bare clip batches for
    `(("clips", 0),)` (video generation). Seeds: `cfg.trainer.seed` plus the offset."""
    data_cfg, model_cfg, seed = cfg.task.data, cfg.task.model, cfg.trainer.seed

    def dataset_fn(ctx: tf.distribute.InputContext):
        per_replica = ctx.get_per_replica_batch_size(global_batch)
        # Each input pipeline feeds its share of the replicas with successive batches.
        per_pipeline_step = per_replica * ctx.num_replicas_in_sync // ctx.num_input_pipelines
        common = dict(
            resolution=model_cfg.resolution,
            frames=model_cfg.frames,
            batch_size=per_replica,
            shuffle_buffer=data_cfg.shuffle_buffer,
            flip=data_cfg.flip,
            cycle_length=data_cfg.cycle_length,
            on_corrupt=data_cfg.on_corrupt,
            input_context=ctx,
            start=start_step * batches_per_step * per_pipeline_step,
        )
        datasets = tuple(
            make_dataset(
                getattr(data_cfg, f"train_{kind}"),
                kind,
                seed=seed + offset,
                key=f"task.data.train_{kind}",
                **common,
            )
            for kind, offset in streams
        )
        return datasets[0] if len(datasets) == 1 else tf.data.Dataset.zip(datasets)

    return strategy.distribute_datasets_from_function(dataset_fn)
