"""`benchmark data`: clips/s the tf.data reader delivers vs clips/s training consumes."""

from __future__ import annotations

import time

from idcg_tf.config import Config
from idcg_tf.errors import UserError


def benchmark_data(cfg: Config, batch: int, batches: int = 50, log=None) -> dict:
    """Reads `batches` batches of `task.data.train_clips` with the training reader, then times a
    short training run on the same config (synthetic inputs) for the consumption rate."""
    from idcg_tf.benchmark.train import benchmark_train
    from idcg_tf.data import reader

    log = log or (lambda line: None)
    d, m = cfg.task.data, cfg.task.model
    if not d.train_clips:
        raise UserError(
            "task.data.train_clips: set it (--set task.data.train_clips=GLOB) to time the reader"
        )
    ds = reader.make_dataset(
        d.train_clips,
        "clips",
        m.resolution,
        m.frames,
        batch,
        shuffle_buffer=d.shuffle_buffer,
        flip=d.flip,
        cycle_length=d.cycle_length,
        on_corrupt=d.on_corrupt,
        key="task.data.train_clips",
    )
    it = iter(ds)
    next(it)  # start-up (shard listing, first shuffle fill) is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    reader_seconds = time.perf_counter() - start
    reader_rate = batches * batch / reader_seconds
    log(f"reader: {reader_rate:.1f} clips/s")
    train = benchmark_train(cfg, batch, iterations=2, warmup=1, log=log)
    # One iteration draws n_critic + 1 batches of clips (and of images).
    consumed = (cfg.trainer.n_critic + 1) * batch / train["iteration_seconds"]
    return {
        "section": "data",
        "batch": batch,
        "batches": batches,
        "reader_clips_per_second": reader_rate,
        "train_clips_per_second": consumed,
        "reader_headroom": reader_rate / consumed,
        "train_iteration_seconds": train["iteration_seconds"],
    }
