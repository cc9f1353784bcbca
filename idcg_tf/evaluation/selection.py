"""Which samples a run is evaluated on: its split, and a fixed, seeded selection from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.evaluation.options import EvalOptions

# Shuffle block for picking the evaluated samples: a fixed, seeded selection that mixes shards
# (test shards are often written person by person) and is the same for every run compared.
SELECTION_BUFFER = 1024

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class EvalData:
    """The split a run is evaluated on."""

    images: str
    clips: str
    split: str  # "test", "train" (fallback) or "given" (--images/--clips)
    dataset: str  # label for the table: the folder holding the image shards

    def option(self, kind: str) -> str:
        """The option or config key an error about `kind` ("images"/"clips") should name."""
        return f"--{kind}" if self.split == "given" else f"task.data.{self.split}_{kind}"


def dataset_label(pattern: str) -> str:
    """'data/celeb/images-test-*.tfrecord' -> 'celeb'."""
    first = pattern.split(",")[0].strip().rstrip("/")
    parent = first.rsplit("/", 2)[-2] if first.count("/") else ""
    return parent or first


def eval_data_for(cfg: Config, options: EvalOptions, run: str, log: Log) -> EvalData:
    """The run's test split, the given one, or (with a warning) its training split."""
    if options.images is not None:
        return EvalData(options.images, options.clips, "given", dataset_label(options.images))
    d = cfg.task.data
    if d.test_images and d.test_clips:
        return EvalData(d.test_images, d.test_clips, "test", dataset_label(d.test_images))
    if d.train_images and d.train_clips:
        log(
            f"warning: {run}: the config has no task.data.test_images/test_clips; evaluating on "
            "the TRAINING split (scores will be optimistic); pass --images/--clips for a test "
            "split"
        )
        return EvalData(d.train_images, d.train_clips, "train", dataset_label(d.train_images))
    raise UserError(f"{run}: the config names no test or training data; pass --images and --clips")


def seeded_samples(
    pattern: str, kind: str, cfg: Config, samples: int, seed: int, key: str, batch_size: int
) -> Iterator[np.ndarray]:
    """The first `samples` samples (unflipped) of a seeded shuffle of `pattern`, in batches;
    a one-line UserError naming `key` when the shards do not hold `kind` of the run's shape."""
    import tensorflow as tf

    from idcg_tf.data import reader

    m = cfg.task.model
    ds = reader.make_dataset(
        pattern,
        kind,
        m.resolution,
        m.frames,
        1,
        shuffle_buffer=SELECTION_BUFFER,
        seed=seed,
        flip=False,
        repeat=False,
        on_corrupt=cfg.task.data.on_corrupt,
        key=key,
    )
    iterator = iter(ds.unbatch().take(samples).batch(batch_size))
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as exc:
            first = (exc.message or type(exc).__name__).strip().splitlines()[0]
            shape = f"{m.resolution}x{m.resolution}" + (
                f", {m.frames} frames" if kind == "clips" else ""
            )
            raise UserError(
                f"{key}: cannot read {pattern} as {kind} of the run's shape ({shape}): {first}"
            ) from None
        yield batch.numpy()
