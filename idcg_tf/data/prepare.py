"""The data preparation pipeline: sources -> face crops and clips -> sharded TFRecords.

`prepare(options)` enumerates the sources (`idcg_tf.data.sources`), draws the train/test split,
detects and crops faces in worker processes (`idcg_tf.data.faces`), and writes
``images-<split>-*.tfrecord``, ``clips-<split>-*.tfrecord`` (`idcg_tf.data.schema`) and
``manifest.json`` into the output folder.

Resuming: every unit of work (one video, or a chunk of still images) leaves its records and a
summary in ``<output>/.work/<fingerprint>/`` before it counts as done; a rerun with the same
options and inputs skips the done units, so an interrupted run completes without redoing or
duplicating them. Shards and the manifest are written only at the end, each to a temporary
name renamed into place; shards of an earlier run that the new one does not produce are
removed, so a reader globbing ``images-train-*`` never mixes two runs. The work folder is
deleted after a successful run unless `keep_work` is set.

Splits: a person (identity) or, where none is known, a file is the unit; for each domain the
units are ordered by a seeded hash and the first `test_fraction` of them go to test. A unit in
test in one domain is in test in both (PaSC people have stills and videos); CelebA's official
partition, when given, decides its units. With `time_split`, each video without an identity is
split in time instead: its last `test_fraction` of frames are test, separated from the train
frames by a gap of one clip. That gives a single-video demo a test split, at the price that
test clips show the same person as train clips (the manifest says so).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import math
import multiprocessing
import os
import pickle
import platform
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from idcg_tf.data import faces as F
from idcg_tf.data import sources as S
from idcg_tf.errors import UserError
from idcg_tf.fileio import write_atomically

MANIFEST = "manifest.json"
WORK_DIR = ".work"
IMAGES_PER_TASK = 32  # still images handled (and cached) as one unit of work
SHARD_TARGET_BYTES = 64 << 20  # automatic shard count aims at about this much per shard
SPLITS = ("train", "test")
_SHARD_RE = re.compile(r"^(images|clips)-(train|test)-\d{5}-of-\d{5}\.tfrecord(\.tmp-\d+)?$")


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    """Everything `prepare` needs; field names match the tool's flags (`clip_stride` is
    ``--clip-stride``). `None` fields take the documented default from the others."""

    output: str
    images: tuple[str, ...] = ()  # "KIND:PATH" still-image sources
    videos: tuple[str, ...] = ()  # "KIND:PATH" video sources
    resolution: int = 64  # r: crops are r x r (paper: 64)
    frames: int = 32  # l: frames per clip (paper: 32)
    clip_stride: int | None = None  # frames between clip starts; default l (no overlap)
    margin: float = 0.2  # crop side = longer box side * (1 + 2 * margin)
    min_confidence: float = 0.9  # MTCNN confidence below which a detection is ignored
    min_face: int | None = None  # smallest face (and image) side in pixels; default r // 2
    smooth: float = 2.0  # sigma, in frames, of the smoothing of crop boxes along a track
    frontal_only: bool = False  # keep only stills the Haar frontal cascade also accepts
    test_fraction: float = 0.1
    time_split: bool = False  # split identity-less videos in time (see the module doc)
    seed: int = 0
    shards: int = 0  # shards per (kind, split); 0: about one per 64 MiB
    workers: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)  # 1: inline
    max_frames_per_video: int = 0  # decode at most this many frames per video; 0: all
    max_clips_per_video: int = 0  # keep at most this many clips per video and split; 0: all
    keep_work: bool = False  # keep the per-input cache after a successful run

    def resolved(self) -> "PrepareOptions":
        """Checks every field and fills the defaults; errors name the flag."""
        def need(ok: bool, flag: str, what: str, value: Any) -> None:
            if not ok:
                raise UserError(f"--{flag} must be {what}, got {value!r}")

        need(bool(self.output), "output", "a folder", self.output)
        if not (self.images or self.videos):
            raise UserError("no input: give --images KIND:PATH and/or --videos KIND:PATH")
        need(self.resolution >= 8, "resolution", "at least 8", self.resolution)
        need(self.frames >= 1, "frames", "at least 1", self.frames)
        stride = self.frames if self.clip_stride is None else self.clip_stride
        need(stride >= 1, "clip-stride", "at least 1", stride)
        need(0 <= self.margin <= 2, "margin", "in [0, 2]", self.margin)
        need(0 < self.min_confidence <= 1, "min-confidence", "in (0, 1]", self.min_confidence)
        min_face = max(1, self.resolution // 2) if self.min_face is None else self.min_face
        need(min_face >= 1, "min-face", "at least 1", min_face)
        need(self.smooth >= 0, "smooth", "at least 0", self.smooth)
        need(0 <= self.test_fraction < 1, "test-fraction", "in [0, 1)", self.test_fraction)
        need(self.shards >= 0, "shards", "at least 0", self.shards)
        need(self.workers >= 1, "workers", "at least 1", self.workers)
        need(self.max_frames_per_video >= 0, "max-frames-per-video", "at least 0",
             self.max_frames_per_video)
        need(self.max_clips_per_video >= 0, "max-clips-per-video", "at least 0",
             self.max_clips_per_video)
        return dataclasses.replace(self, images=tuple(self.images), videos=tuple(self.videos),
                                   clip_stride=stride, min_face=min_face)


@dataclasses.dataclass(frozen=True)
class PrepareResult:
    """What a run wrote: `written` records in all, and the manifest (also on disk)."""

    output: str
    written: int
    manifest: dict


# --------------------------------------------------------------------------- splits


def _unit_hash(seed: int, group: str) -> float:
    digest = hashlib.sha256(f"{seed}\0{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_splits(items: Iterable[S.Item], test_fraction: float, seed: int,
                  time_split: bool) -> dict[str, str]:
    """Maps each item's path to "train", "test" or "time" (split in time, videos only)."""
    items = list(items)
    split_of_group: dict[str, str] = {}
    result: dict[str, str] = {}
    official: dict[str, str] = {}
    for item in items:
        if item.official_split is not None:
            # A person with any officially-test image is test, so no person is in both.
            if official.get(item.group) != "test":
                official[item.group] = item.official_split
    for domain in ("images", "videos"):
        groups = sorted({i.group for i in items if i.domain == domain
                         and i.group not in official
                         and not (time_split and domain == "videos" and not i.identity)},
                        key=lambda g: (_unit_hash(seed, g), g))
        n_test = 0
        if test_fraction > 0 and len(groups) >= 2:
            n_test = min(max(1, round(test_fraction * len(groups))), len(groups) - 1)
        for rank, group in enumerate(groups):
            split = "test" if rank < n_test else "train"
            if split_of_group.get(group) != "test":
                split_of_group[group] = split
    split_of_group.update(official)
    for item in items:
        if time_split and item.domain == "videos" and not item.identity:
            result[item.path] = "time"
        else:
            result[item.path] = split_of_group[item.group]
    return result


def time_ranges(first: int, last: int, frames: int,
                test_fraction: float) -> dict[str, tuple[int, int]]:
    """Inclusive frame ranges of a time-split video: test at the end, a clip-long gap."""
    total = last - first + 1
    n_test = int(round(total * test_fraction))
    if n_test == 0:
        return {"train": (first, last)}
    test_first = last - n_test + 1
    return {"train": (first, test_first - frames - 1), "test": (test_first, last)}


# --------------------------------------------------------------------------- units of work


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work and of caching: a video, or a chunk of still images."""

    domain: str
    items: tuple[S.Item, ...]
    splits: tuple[str, ...]

    @property
    def id(self) -> str:
        key = json.dumps([self.domain, [dataclasses.astuple(i) for i in self.items],
                          self.splits])
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def _tasks(items: list[S.Item], splits: dict[str, str]) -> list[Task]:
    videos = [Task("videos", (i,), (splits[i.path],)) for i in items if i.domain == "videos"]
    stills = [i for i in items if i.domain == "images"]
    chunks = [Task("images", tuple(stills[k:k + IMAGES_PER_TASK]),
                   tuple(splits[i.path] for i in stills[k:k + IMAGES_PER_TASK]))
              for k in range(0, len(stills), IMAGES_PER_TASK)]
    # Videos are the long units; starting them first keeps both workers busy to the end.
    return videos + chunks


def _fingerprint(options: PrepareOptions) -> str:
    """What per-input results depend on (split choices are part of each task's id)."""
    import idcg_tf

    keys = ("resolution", "frames", "clip_stride", "margin", "min_confidence", "min_face",
            "smooth", "frontal_only", "test_fraction", "max_frames_per_video",
            "max_clips_per_video")
    values = {k: getattr(options, k) for k in keys}
    values["version"] = idcg_tf.__version__
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- worker side

_WORKER: dict[str, Any] = {}


def _init_worker(options: PrepareOptions, work_dir: str) -> None:
    """Builds this process's detector once; every task of the process reuses it.

    TensorFlow keeps its default thread pools: MTCNN runs eagerly and is bound by Python op
    dispatch (about one core per process, measured), and pinning TF and OpenCV to one thread
    per worker made two workers slower, not faster.
    """
    _WORKER["options"] = options
    _WORKER["work_dir"] = Path(work_dir)
    _WORKER["detector"] = F.FaceDetector(options.min_face, options.min_confidence)
    _WORKER["frontal"] = F.FrontalFilter() if options.frontal_only else None


def _init_pool_worker(options: PrepareOptions, work_dir: str) -> None:
    import tensorflow as tf

    # mtcnn runs on the CPU; hiding GPUs keeps each worker from reserving GPU memory.
    tf.config.set_visible_devices([], "GPU")
    _init_worker(options, work_dir)


def _skip(item: S.Item, reason: str, detail: str) -> dict:
    return {"path": item.path, "domain": item.domain, "reason": reason, "detail": detail}


def _failed(item: S.Item, error: Exception) -> dict:
    # Anything unexpected about one input is recorded against it rather than losing the run.
    return _skip(item, "failed", f"{type(error).__name__}: {error}")


def _process_stills(task: Task) -> tuple[list, dict]:
    from idcg_tf.data import schema

    options: PrepareOptions = _WORKER["options"]
    detector: F.FaceDetector = _WORKER["detector"]
    frontal: F.FrontalFilter | None = _WORKER["frontal"]
    records, skipped, loaded = [], [], []
    for item, split in zip(task.items, task.splits):
        try:
            image = S.read_image(item.path)
            h, w = image.shape[:2]
            if min(h, w) < options.min_face:
                raise S.SkipInput("too small", f"{w}x{h} pixels, below --min-face "
                                               f"{options.min_face}")
            loaded.append((item, split, image))
        except S.SkipInput as skip:
            skipped.append(_skip(item, skip.reason, skip.detail))
        except Exception as error:  # noqa: BLE001 - see _failed
            skipped.append(_failed(item, error))
    try:
        found = detector.detect([image for _, _, image in loaded])
    except Exception:  # noqa: BLE001 - retry one by one so one bad image only costs itself
        found = []
        for item, _, image in loaded:
            try:
                found.append(detector.detect([image])[0])
            except Exception as error:  # noqa: BLE001
                skipped.append(_failed(item, error))
                found.append(None)
    for (item, split, image), faces in zip(loaded, found):
        if faces is None:
            continue
        face = F.largest_face(faces)
        if face is None:
            skipped.append(_skip(item, "no face", f"no face of at least {options.min_face} px "
                                                  f"with confidence >= {options.min_confidence}"))
            continue
        if frontal is not None and not frontal.is_frontal(image, face):
            skipped.append(_skip(item, "not frontal",
                                 "the Haar frontal cascade finds no face over the MTCNN box"))
            continue
        crop = F.crop_square(image, *F.square_box(face, options.margin), options.resolution)
        records.append(("images", split, schema.image_example(
            crop, source=item.path, identity=item.identity, confidence=face.confidence)))
    return records, {"skipped": skipped, "videos": []}


def _plan_clips(runs: list[F.Run], split: str, first: int, last: int,
                options: PrepareOptions) -> list[tuple[str, list[int]]]:
    """(split, frame indices) of each clip cut from the runs of one video."""
    ranges = (time_ranges(first, last, options.frames, options.test_fraction)
              if split == "time" else {split: (first, last)})
    plan = []
    for name, (lo, hi) in ranges.items():
        clips = []
        for run in runs:
            a, b = max(lo, run.indices[0]), min(hi, run.indices[-1])
            clips += [list(range(s, s + options.frames))
                      for s in F.clip_starts(a, b, options.frames, options.clip_stride)]
        if options.max_clips_per_video and len(clips) > options.max_clips_per_video:
            # Evenly spaced rather than the first ones, so the kept clips cover the video.
            keep = np.linspace(0, len(clips) - 1, options.max_clips_per_video).round()
            clips = [clips[int(k)] for k in keep]
        plan += [(name, c) for c in clips]
    return plan


def _process_video(task: Task) -> tuple[list, dict]:
    from idcg_tf.data import schema

    options: PrepareOptions = _WORKER["options"]
    detector: F.FaceDetector = _WORKER["detector"]
    item, split = task.items[0], task.splits[0]
    stats = {"path": item.path, "identity": item.identity, "split": split}
    try:
        # Pass 1: boxes only, so a long video never has to sit in memory.
        detections, unreadable, batch = [], 0, []
        indices_seen: list[int] = []

        def flush():
            found = detector.detect([frame for _, frame in batch])
            detections.extend((index, faces) for (index, _), faces in zip(batch, found))
            batch.clear()

        for index, frame in S.iter_video_frames(item, options.max_frames_per_video):
            indices_seen.append(index)
            if frame is None:
                unreadable += 1
                continue
            batch.append((index, frame))
            if len(batch) == F.DETECT_BATCH:
                flush()
        if batch:
            flush()
        stats.update(frames=len(indices_seen), unreadable_frames=unreadable,
                     face_frames=sum(1 for _, f in detections if f))
        if not detections:
            raise S.SkipInput("no frames", "no frame could be decoded")
        runs = F.main_face_runs(detections)
        if not runs:
            raise S.SkipInput("no face", f"no face of at least {options.min_face} px with "
                                         f"confidence >= {options.min_confidence} in "
                                         f"{len(detections)} frames")
        stats.update(track_frames=sum(len(r) for r in runs), runs=len(runs),
                     longest_run=max(len(r) for r in runs))
        boxes: dict[int, tuple[float, float, float]] = {}
        confidence: dict[int, float] = {}
        for run in runs:
            for index, face, box in zip(run.indices, run.faces,
                                        F.smooth_boxes(run.faces, options.margin,
                                                       options.smooth)):
                boxes[index], confidence[index] = box, face.confidence
        plan = _plan_clips(runs, split, min(indices_seen), max(indices_seen), options)
        if not plan:
            raise S.SkipInput("track too short", (
                f"longest run of frames with the face is {stats['longest_run']}, a clip needs "
                f"{options.frames}" + (" in one time-split part" if split == "time" else "")))
        # Pass 2: decode again and crop only the frames some clip uses.
        needed = {i for _, clip in plan for i in clip}
        crops = {}
        for index, frame in S.iter_video_frames(item, options.max_frames_per_video):
            if index in needed and frame is not None:
                crops[index] = F.crop_square(frame, *boxes[index], options.resolution)
        records = []
        for name, clip in plan:
            if all(i in crops for i in clip):
                records.append(("clips", name, schema.clip_example(
                    np.stack([crops[i] for i in clip]), source=item.path,
                    identity=item.identity, frame_indices=clip,
                    confidence=[confidence[i] for i in clip])))
        if not records:
            raise S.SkipInput("unreadable", "frames decoded on the first pass failed on the "
                                            "second")
        stats["clips"] = dict(Counter(name for _, name, _ in records))
        return records, {"skipped": [], "videos": [stats]}
    except S.SkipInput as skip:
        return [], {"skipped": [_skip(item, skip.reason, skip.detail)], "videos": [stats]}
    except Exception as error:  # noqa: BLE001 - see _failed
        return [], {"skipped": [_failed(item, error)], "videos": [stats]}


def _run_task(task: Task) -> dict:
    """Processes one task and caches its records and summary; returns the summary."""
    records, summary = (_process_video if task.domain == "videos" else _process_stills)(task)
    counts, sizes = Counter(), Counter()
    for kind, split, data in records:
        counts[f"{kind}-{split}"] += 1
        sizes[f"{kind}-{split}"] += len(data)
    summary.update(task=task.id, inputs=len(task.items), counts=dict(counts), bytes=dict(sizes))
    work_dir: Path = _WORKER["work_dir"]
    write_atomically(work_dir / f"{task.id}.records",
                        pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    # The summary is written last: its presence is what marks the task done.
    write_atomically(work_dir / f"{task.id}.json", json.dumps(summary).encode())
    return summary


# --------------------------------------------------------------------------- main side


def _load_done(work_dir: Path, task: Task) -> dict | None:
    summary, records = work_dir / f"{task.id}.json", work_dir / f"{task.id}.records"
    if not (summary.exists() and records.exists()):
        return None
    try:
        return json.loads(summary.read_text())
    except (OSError, ValueError):
        return None


def _run_all(tasks: list[Task], options: PrepareOptions, work_dir: Path,
             progress: bool) -> list[dict]:
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
    bar = tqdm(total=total, initial=cached, unit="file", desc="faces", disable=not progress,
               dynamic_ncols=True, smoothing=0.1, file=sys.stderr)
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
                    workers, mp_context=context, initializer=_init_pool_worker,
                    initargs=(options, str(work_dir))) as pool:
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


def _shard_count(records: int, size: int, requested: int) -> int:
    if records == 0:
        return 0
    wanted = requested or math.ceil(size / SHARD_TARGET_BYTES)
    return max(1, min(wanted, records))


def _write_shards(output: Path, work_dir: Path, tasks: list[Task], summaries: list[dict],
                  options: PrepareOptions) -> dict[str, list[str]]:
    import tensorflow as tf

    from idcg_tf.data import schema

    counts, sizes = Counter(), Counter()
    for s in summaries:
        counts.update(s["counts"])
        sizes.update(s["bytes"])
    writers, names, written = {}, {}, Counter()
    for key in sorted(counts):
        kind, split = key.split("-")
        n = _shard_count(counts[key], sizes[key], options.shards)
        names[key] = [schema.shard_name(kind, split, i, n) for i in range(n)]
        writers[key] = [tf.io.TFRecordWriter(str(output / f"{name}.tmp-{os.getpid()}"))
                        for name in names[key]]
    # A seeded order of the units, records dealt round-robin: every shard mixes many sources.
    order = sorted(range(len(tasks)), key=lambda k: _unit_hash(options.seed, tasks[k].id))
    try:
        for k in order:
            if not summaries[k]["counts"]:
                continue
            records = pickle.loads((work_dir / f"{tasks[k].id}.records").read_bytes())
            for kind, split, data in records:
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


def _versions() -> dict[str, str]:
    from importlib import metadata

    import cv2

    import idcg_tf

    found = {"python": platform.python_version(), "idcg_tf": idcg_tf.__version__,
             "opencv": cv2.__version__}
    for package in ("mtcnn", "tensorflow", "keras", "numpy", "pillow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _manifest(options: PrepareOptions, sources: list[S.Source], items: list[S.Item],
              rejected: list[S.Rejected], splits: dict[str, str], summaries: list[dict],
              shards: dict[str, list[str]]) -> dict:
    versions = _versions()
    skipped = [dataclasses.asdict(r) for r in rejected]
    for s in summaries:
        skipped += s["skipped"]
    skipped.sort(key=lambda s: (s["domain"], s["path"]))
    counts = Counter()
    for s in summaries:
        counts.update(s["counts"])
    skipped_paths = {s["path"] for s in skipped}
    per_split = {}
    for split in SPLITS:
        people = {i.identity for i in items if i.identity and i.path not in skipped_paths
                  and splits[i.path] in (split, "time")}
        per_split[split] = {"images": counts.get(f"images-{split}", 0),
                            "clips": counts.get(f"clips-{split}", 0),
                            "identities": len(people)}
    shared = ({i.identity for i in items if i.identity and splits[i.path] == "train"}
              & {i.identity for i in items if i.identity and splits[i.path] == "test"})
    if shared:  # the split rules exclude this; a hit is a bug, not a user error
        raise RuntimeError(f"identities in both splits: {sorted(shared)[:5]}")
    time_split_videos = sorted(i.path for i in items if splits[i.path] == "time")
    notes = []
    if time_split_videos:
        notes.append(f"{len(time_split_videos)} video(s) without identity were split in time "
                     "(--time-split): their test clips show the same people as their train "
                     "clips, separated by a gap of one clip length.")
    for domain in ("images", "videos"):
        kind = "images" if domain == "images" else "clips"
        if any(i.domain == domain for i in items) and options.test_fraction > 0 \
                and per_split["test"][kind] == 0:
            notes.append(f"no {kind} in the test split: too few files or people to split, or "
                         "every test one was skipped (the split is drawn before detection).")
    used = Counter(i.domain for i in items if i.path not in skipped_paths)
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "options": {**dataclasses.asdict(options),
                    "images": [s.spec for s in sources if s.domain == "images"],
                    "videos": [s.spec for s in sources if s.domain == "videos"]},
        "versions": versions,
        "detector": {
            "name": "MTCNN (P-Net, R-Net, O-Net)", "package": f"mtcnn {versions['mtcnn']}",
            "min_confidence": options.min_confidence, "min_face": options.min_face,
            "frontal_filter": (f"OpenCV {versions['opencv']} {F.FrontalFilter.CASCADE}"
                               if options.frontal_only else None),
        },
        "record": {"schema": "idcg_tf.data.schema", "encoding": "png", "dtype": "uint8",
                   "images_shape": [options.resolution, options.resolution, 3],
                   "clips_shape": [options.frames, options.resolution, options.resolution, 3]},
        "split": {"unit": "identity, else file", "test_fraction": options.test_fraction,
                  "seed": options.seed, "time_split_videos": time_split_videos},
        "counts": per_split,
        "inputs": {domain: {"found": sum(1 for i in items if i.domain == domain)
                            + sum(1 for r in rejected if r.domain == domain),
                            "used": used.get(domain, 0)}
                   for domain in ("images", "videos")},
        "shards": shards,
        "skipped_summary": dict(Counter(s["reason"] for s in skipped).most_common()),
        "skipped": skipped,
        "videos": sorted((v for s in summaries for v in s["videos"]), key=lambda v: v["path"]),
        "notes": notes,
    }


def _enumerate(options: PrepareOptions):
    sources = ([S.parse_source(s, "images") for s in options.images]
               + [S.parse_source(s, "videos") for s in options.videos])
    items: list[S.Item] = []
    rejected: list[S.Rejected] = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        found, bad = S.enumerate_source(source)
        for item in found:
            # The same file named by two overlapping sources is one input, not two.
            if (item.domain, item.path) not in seen:
                seen.add((item.domain, item.path))
                items.append(item)
        rejected += bad
    splits = assign_splits(items, options.test_fraction, options.seed, options.time_split)
    return sources, items, rejected, splits


def plan(options: PrepareOptions) -> dict:
    """What `prepare` would do, without detecting anything: the resolved options and the
    inputs found per domain and split (for ``--dry-run``)."""
    options = options.resolved()
    sources, items, rejected, splits = _enumerate(options)
    inputs = {domain: dict(Counter(splits[i.path] for i in items if i.domain == domain))
              for domain in ("images", "videos")}
    return {"options": {**dataclasses.asdict(options),
                        "images": [s.spec for s in sources if s.domain == "images"],
                        "videos": [s.spec for s in sources if s.domain == "videos"]},
            "inputs_per_split": inputs,
            "not_inputs": dict(Counter(r.reason for r in rejected))}


def prepare(options: PrepareOptions, progress: bool = True) -> PrepareResult:
    """Runs the whole pipeline; see the module docstring. Bad paths raise `UserError`."""
    options = options.resolved()
    sources, items, rejected, splits = _enumerate(options)
    output = Path(options.output).expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {options.output}: exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    work_dir = output / WORK_DIR / _fingerprint(options)
    work_dir.mkdir(parents=True, exist_ok=True)

    tasks = _tasks(items, splits)
    summaries = _run_all(tasks, options, work_dir, progress)
    shards = _write_shards(output, work_dir, tasks, summaries, options)
    manifest = _manifest(options, sources, items, rejected, splits, summaries, shards)
    write_atomically(output / MANIFEST, json.dumps(manifest, indent=1).encode())
    for leftover in output.glob(f"{MANIFEST}.tmp-*"):  # from an interrupted earlier run
        leftover.unlink()
    if not options.keep_work:
        shutil.rmtree(output / WORK_DIR, ignore_errors=True)
    written = sum(c[k] for c in manifest["counts"].values() for k in ("images", "clips"))
    return PrepareResult(str(output), written, manifest)


def summary_text(result: PrepareResult) -> str:
    """A few lines for the terminal: what was written, what was skipped and why."""
    m = result.manifest
    c = m["counts"]
    lines = [f"wrote {c['train']['images'] + c['test']['images']} images "
             f"(train {c['train']['images']}, test {c['test']['images']}) and "
             f"{c['train']['clips'] + c['test']['clips']} clips "
             f"(train {c['train']['clips']}, test {c['test']['clips']}) to {result.output}"]
    if m["skipped"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in m["skipped_summary"].items())
        lines.append(f"skipped {len(m['skipped'])} inputs: {reasons} "
                     f"(each listed in {MANIFEST})")
    lines += m["notes"]
    return "\n".join(lines)
