"""A checkpoint's numbers on the selected samples: FaceNet score, verification rate, cycle error
and spread per direction (`metrics.summarize`), and the samples kept for the sheets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import numpy as np

from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.evaluation import metrics
from idcg_tf.evaluation.options import EvalOptions
from idcg_tf.evaluation.selection import EvalData, Log, eval_data_for, seeded_samples
from idcg_tf.identity.scoring import DIRECTIONS, Embed, translate_and_score


def score_direction(
    nets,
    embed: Embed,
    batches: Iterable[np.ndarray],
    direction: str,
    options: EvalOptions,
    keep: int,
):
    """Per-sample distances and cycle errors of one direction, the FaceNet embeddings of its
    inputs and translations (per frame for clips), and the first `keep` samples' inputs,
    translations and reconstructions (for the sheets)."""
    distances, cycles, kept, emb_in, emb_out = [], [], [[], [], []], [], []
    have = 0
    for batch in batches:
        t = translate_and_score(
            nets, embed, batch, direction, options.embed_batch, options.training
        )
        distances.append(t.distances)
        cycles.append(metrics.l1_errors(batch, t.reconstructed))
        emb_in.append(t.input_embeddings)
        emb_out.append(t.output_embeddings)
        if have < keep:
            take = keep - have
            for store, values in zip(kept, (batch, t.translated, t.reconstructed)):
                store.append(values[:take])
            have += min(take, len(batch))
    if not distances:
        return np.zeros(0), np.zeros(0), None, None
    examples = tuple(np.concatenate(parts) for parts in kept) if have else None
    embeddings = (np.concatenate(emb_in), np.concatenate(emb_out))
    return np.concatenate(distances), np.concatenate(cycles), examples, embeddings


def read_selection(cfg: Config, data: EvalData, samples: int, options: EvalOptions) -> dict:
    """The selected samples of both directions read once, {direction: [uint8 batches]}, for
    scoring several checkpoints on them (`score_checkpoint(..., selection=...)`): uint8 holds
    the records' pixels exactly, at a quarter of float32's memory."""
    selection = {}
    for direction, kind, pattern in zip(DIRECTIONS, ("images", "clips"), (data.images, data.clips)):
        batches = seeded_samples(
            pattern, kind, cfg, samples, options.seed, data.option(kind), options.batch_size
        )
        with contextlib.closing(batches):  # its tf.data iterator ends here
            selection[direction] = [np.rint((b + 1.0) * 127.5).astype(np.uint8) for b in batches]
    return selection


def _from_uint8(batches):
    # The reader's own scaling (schema.py), in float32: the same values it delivered.
    for u8 in batches:
        yield u8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def score_checkpoint(
    nets,
    embed: Embed,
    cfg: Config,
    data: EvalData,
    samples: int,
    options: EvalOptions,
    keep: int,
    selection: dict | None = None,
) -> tuple[dict, dict]:
    """({direction: summary}, {direction: kept samples}) of `samples` samples per direction,
    read from the shards, or from `selection` (`read_selection`) when given."""
    results, examples = {}, {}
    for direction, kind, pattern in zip(DIRECTIONS, ("images", "clips"), (data.images, data.clips)):
        key = data.option(kind)
        if selection is not None:
            batches = contextlib.nullcontext(_from_uint8(selection[direction]))
        else:
            batches = contextlib.closing(
                seeded_samples(pattern, kind, cfg, samples, options.seed, key, options.batch_size)
            )
        with batches as read:  # a shard reader's tf.data iterator ends here
            distances, cycles, kept, embeddings = score_direction(
                nets, embed, read, direction, options, keep
            )
        if distances.size == 0:
            raise UserError(f"{key}: {pattern} holds no {kind}")
        results[direction] = metrics.summarize(distances, cycles, options.threshold, *embeddings)
        examples[direction] = kept
    return results, examples


def heldout_scores(nets, embed: Embed, cfg: Config, samples: int, log: Log) -> dict:
    """FaceNet score and cycle error of the first `samples` of the run's test split (the same
    selection as `tools/evaluate.py` with its default seed, moving-average BatchNorm), for the
    identity score curve during training: {"image_to_video": summary, "video_to_image": ...}
    as `metrics.summarize` returns. Without a test split, the training split (with a warning)."""
    options = EvalOptions(samples=samples)
    data = eval_data_for(cfg, options, "trainer.facenet_score", log)
    results, _ = score_checkpoint(nets, embed, cfg, data, samples, options, 0)
    return results
