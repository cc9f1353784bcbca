"""tf.distribute strategies by name: the same training code runs on 1 CPU, 1 GPU, N GPUs or
several machines."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from idcg_tf.errors import UserError


def make_strategy(name: str = "mirrored", devices=None) -> tf.distribute.Strategy:
    """ "mirrored": every local GPU (or the CPU when there is none); "multi_worker": the
    cluster in TF_CONFIG; "default": no distribution (one device)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError(
                "trainer.strategy=multi_worker: set TF_CONFIG to describe the cluster "
                "(see docs/performance.md, 'Training on several machines')"
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as exc:
            raise UserError(f"TF_CONFIG: not valid JSON ({exc})") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise UserError(f"trainer.strategy: unknown strategy {name!r}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints, summaries and samples."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> str:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "local"
    return f"{resolver.task_type}{resolver.task_id}"
