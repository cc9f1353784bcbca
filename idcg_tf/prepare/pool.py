"""Running prepare_data's units of work in worker processes, each result cached on disk.

A unit leaves its records and then its summary in the work folder; the summary marks it done,
so a rerun with the same options skips it (see `idcg_tf.prepare.pipeline` on resuming).
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import pickle
import sys
from collections import Counter
from pathlib import Path

from idcg_tf.fileio import write_atomically
from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import units

_PROCESS: dict = {}  # this process's Worker and work folder, built once


def _init_worker(options, work_dir: str) -> None:
    """Builds this process's detector once; every task of the process reuses it.

    TensorFlow keeps its default thread pools: MTCNN runs eagerly and is bound by Python op
    dispatch (about one core per process, measured), and pinning TF and OpenCV to one thread
    per worker made two workers slower, not faster.
    """
    _PROCESS["worker"] = units.Worker(
        options,
        faces_lib.FaceDetector(options.min_face, options.min_confidence),
        faces_lib.FrontalFilter() if options.frontal_only else None,
    )
    _PROCESS["work_dir"] = Path(work_dir)


def _init_pool_worker(options, work_dir: str) -> None:
    import tensorflow as tf

    # mtcnn runs on the CPU; hiding GPUs keeps each worker from reserving GPU memory.
    tf.config.set_visible_devices([], "GPU")
    _init_worker(options, work_dir)


def _run_task(task: units.Task) -> dict:
    """Processes one task and caches its records and summary; returns the summary."""
    records, summary = units.process(task, _PROCESS["worker"])
    counts, sizes = Counter(), Counter()
    for kind, split, data in records:
        counts[f"{kind}-{split}"] += 1
        sizes[f"{kind}-{split}"] += len(data)
    summary.update(task=task.id, inputs=len(task.items), counts=dict(counts), bytes=dict(sizes))
    work_dir: Path = _PROCESS["work_dir"]
    write_atomically(
        work_dir / f"{task.id}.records", pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
    )
    # The summary is written last: its presence is what marks the task done.
    write_atomically(work_dir / f"{task.id}.json", json.dumps(summary).encode())
    return summary


def _load_done(work_dir: Path, task: units.Task) -> dict | None:
    summary, records = work_dir / f"{task.id}.json", work_dir / f"{task.id}.records"
    if not (summary.exists() and records.exists()):
        return None
    try:
        return json.loads(summary.read_text())
    except (OSError, ValueError):
        return None


def cached_records(work_dir: Path, task: units.Task) -> list:
    """The (kind, split, serialized example) records a finished task left in `work_dir`."""
    return pickle.loads((work_dir / f"{task.id}.records").read_bytes())


def run_all(tasks: list[units.Task], options, work_dir: Path, progress: bool) -> list[dict]:
    """Each task's summary, in order: cached ones read back, the others run (in
    `options.workers` spawned processes, or inline for 1)."""
    from tqdm import tqdm

    summaries = {}
    todo = []
    for task in tasks:
        done = _load_done(work_dir, task)
        if done is None:
            todo.append(task)
        else:
            summaries[task.id] = done
    total = sum(len(t.items) for t in tasks)
    cached = total - sum(len(t.items) for t in todo)
    bar = tqdm(
        total=total,
        initial=cached,
        unit="file",
        desc="faces",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
    )
    try:
        if todo and options.workers == 1:
            _init_worker(options, str(work_dir))
            for task in todo:
                summaries[task.id] = _run_task(task)
                bar.update(len(task.items))
        elif todo:
            # spawn: children start clean instead of inheriting a forked TensorFlow runtime.
            context = multiprocessing.get_context("spawn")
            workers = min(options.workers, len(todo))
            with concurrent.futures.ProcessPoolExecutor(
                workers,
                mp_context=context,
                initializer=_init_pool_worker,
                initargs=(options, str(work_dir)),
            ) as pool:
                futures = {pool.submit(_run_task, task): task for task in todo}
                try:
                    for future in concurrent.futures.as_completed(futures):
                        summaries[futures[future].id] = future.result()
                        bar.update(len(futures[future].items))
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        bar.close()
    return [summaries[t.id] for t in tasks]
