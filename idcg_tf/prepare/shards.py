"""Writing prepare_data's cached records into sharded TFRecords, replacing an earlier run's."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from pathlib import Path

from idcg_tf.prepare.pool import cached_records
from idcg_tf.prepare.split import inputs_root, portable, unit_hash
from idcg_tf.prepare.units import Task

SHARD_TARGET_BYTES = 64 << 20  # automatic shard count aims at about this much per shard
_SHARD_RE = re.compile(r"^(images|clips)-(train|test)-\d{5}-of-\d{5}\.tfrecord(\.tmp-\d+)?$")


def _shard_count(records: int, size: int, requested: int) -> int:
    if records == 0:
        return 0
    wanted = requested or math.ceil(size / SHARD_TARGET_BYTES)
    return max(1, min(wanted, records))


def write_shards(
    output: Path, work_dir: Path, tasks: list[Task], summaries: list[dict], shards: int, seed: int
) -> dict[str, list[str]]:
    """Writes ``<kind>-<split>-*.tfrecord`` (`shards` per kind and split, 0: about one per
    64 MiB) into `output`, each renamed into place whole; returns their names per
    ``<kind>-<split>``."""
    import tensorflow as tf

    from idcg_tf.data import schema

    counts, sizes = Counter(), Counter()
    for s in summaries:
        counts.update(s["counts"])
        sizes.update(s["bytes"])
    writers, names, written = {}, {}, Counter()
    for key in sorted(counts):
        kind, split = key.split("-")
        n = _shard_count(counts[key], sizes[key], shards)
        names[key] = [schema.shard_name(kind, split, i, n) for i in range(n)]
        writers[key] = [
            tf.io.TFRecordWriter(str(output / f"{name}.tmp-{os.getpid()}")) for name in names[key]
        ]
    # A seeded order of the units, records dealt round-robin: every shard mixes many sources.
    root = inputs_root(i.path for t in tasks for i in t.items)

    def position(task: Task) -> float:
        paths = [portable(i.path, root) for i in task.items]
        return unit_hash(seed, json.dumps([task.domain, paths, task.splits]))

    order = sorted(range(len(tasks)), key=lambda k: position(tasks[k]))
    try:
        for k in order:
            if not summaries[k]["counts"]:
                continue
            for kind, split, data in cached_records(work_dir, tasks[k]):
                key = f"{kind}-{split}"
                writers[key][written[key] % len(writers[key])].write(data)
                written[key] += 1
    finally:
        for group in writers.values():
            for writer in group:
                writer.close()
    for key, group in names.items():
        for name in group:
            os.replace(output / f"{name}.tmp-{os.getpid()}", output / name)
    # Shards of another run's layout, and temporaries an interrupted run left behind.
    keep = {name for group in names.values() for name in group}
    for stale in output.iterdir():
        if _SHARD_RE.match(stale.name) and stale.name not in keep:
            stale.unlink()
    return names
