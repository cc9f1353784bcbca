"""prepare_data's units of work (a video, or a chunk of still images) and how one becomes
records: faces detected, cropped and encoded as TFRecord examples (`idcg_tf.data.schema`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from typing import Any

from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import media
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.prepare.dataset_faces import box_face
from idcg_tf.prepare.split import time_ranges
from idcg_tf.prepare.video_faces import ClipCut, face_clips

IMAGES_PER_TASK = 32  # still images handled (and cached) as one unit of work
# The options per-input results depend on (split choices are part of each task's id).
RESULT_OPTIONS = (
    "resolution",
    "frames",
    "clip_stride",
    "margin",
    "min_confidence",
    "min_face",
    "smooth",
    "frontal_only",
    "test_fraction",
    "max_frames_per_video",
    "max_clips_per_video",
    "keep_damaged",
)


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work and of caching: a video, or a chunk of still images."""

    domain: str
    items: tuple[sources_lib.Item, ...]
    splits: tuple[str, ...]

    @property
    def id(self) -> str:
        key = json.dumps([self.domain, [dataclasses.astuple(i) for i in self.items], self.splits])
        return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Worker:
    """What a process needs to run tasks: the resolved options, its detector and filter."""

    options: Any  # PrepareOptions, resolved
    detector: faces_lib.FaceDetector
    frontal: faces_lib.FrontalFilter | None


def make_tasks(items: list[sources_lib.Item], splits: dict[str, str]) -> list[Task]:
    videos = [Task("videos", (i,), (splits[i.path],)) for i in items if i.domain == "videos"]
    stills = [i for i in items if i.domain == "images"]
    chunks = [
        Task(
            "images",
            tuple(stills[k : k + IMAGES_PER_TASK]),
            tuple(splits[i.path] for i in stills[k : k + IMAGES_PER_TASK]),
        )
        for k in range(0, len(stills), IMAGES_PER_TASK)
    ]
    # Videos are the long units; starting them first keeps both workers busy to the end.
    return videos + chunks


def fingerprint(options) -> str:
    """A key of everything per-input results depend on, idcg_tf's version included."""
    import idcg_tf

    values = {k: getattr(options, k) for k in RESULT_OPTIONS}
    values["version"] = idcg_tf.__version__
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def _skip(item: sources_lib.Item, reason: str, detail: str) -> dict:
    return {"path": item.path, "domain": item.domain, "reason": reason, "detail": detail}


def _failed(item: sources_lib.Item, error: Exception) -> dict:
    # Anything unexpected about one input is recorded against it rather than losing the run.
    return _skip(item, "failed", f"{type(error).__name__}: {error}")


def _load_stills(task: Task, options, skipped: list, damaged: list) -> list:
    loaded, min_face = [], options.min_face
    for item, split in zip(task.items, task.splits):
        kept = None
        if options.keep_damaged:

            def kept(detail, item=item):
                damaged.append(_skip(item, "damaged", detail))

        try:
            image = media.read_image(item.path, on_damage=kept)
            h, w = image.shape[:2]
            if min(h, w) < min_face:
                raise sources_lib.SkipInput(
                    "too small", f"{w}x{h} pixels, below --min-face {min_face}"
                )
            loaded.append((item, split, image))
        except sources_lib.SkipInput as skip:
            skipped.append(_skip(item, skip.reason, skip.detail))
        except Exception as error:  # noqa: BLE001 - see _failed
            skipped.append(_failed(item, error))
    return loaded


def _detect_stills(detector, loaded: list, skipped: list) -> list:
    """The faces of each loaded still: the dataset's box where its item has one (CelebA's
    landmarks), MTCNN's detections otherwise (None where detection failed)."""
    found: list = [
        [box_face(item.faces)] if item.faces.startswith("box:") else None for item, _, _ in loaded
    ]
    todo = [k for k, f in enumerate(found) if f is None]
    try:
        for k, faces in zip(todo, detector.detect([loaded[k][2] for k in todo])):
            found[k] = faces
    except Exception:  # noqa: BLE001 - retry one by one so one bad image only costs itself
        for k in todo:
            try:
                found[k] = detector.detect([loaded[k][2]])[0]
            except Exception as error:  # noqa: BLE001
                skipped.append(_failed(loaded[k][0], error))
                found[k] = None
    return found


def process_stills(task: Task, worker: Worker) -> tuple[list, dict]:
    from idcg_tf.data import schema

    options = worker.options
    records, skipped, damaged = [], [], []
    loaded = _load_stills(task, options, skipped, damaged)
    found = _detect_stills(worker.detector, loaded, skipped)
    for (item, split, image), faces in zip(loaded, found):
        if faces is None:
            continue
        face = faces_lib.largest_face(faces)
        if face is None:
            skipped.append(
                _skip(
                    item,
                    "no face",
                    f"no face of at least {options.min_face} px "
                    f"with confidence >= {options.min_confidence}",
                )
            )
            continue
        if worker.frontal is not None and not worker.frontal.is_frontal(image, face):
            skipped.append(
                _skip(
                    item, "not frontal", "the Haar frontal cascade finds no face over the MTCNN box"
                )
            )
            continue
        crop = faces_lib.crop_square(
            image, *faces_lib.square_box(face, options.margin), options.resolution
        )
        records.append(
            (
                "images",
                split,
                schema.image_example(
                    crop, source=item.path, identity=item.identity, confidence=face.confidence
                ),
            )
        )
    given = sum(1 for item, _, _ in loaded if item.faces.startswith("box:"))
    sources = {"dataset": given, "detector": len(loaded) - given}
    return records, {
        "skipped": skipped,
        "videos": [],
        "damaged_kept": damaged,
        "image_face_sources": sources,
    }


def process_video(task: Task, worker: Worker) -> tuple[list, dict]:
    from idcg_tf.data import schema

    options = worker.options
    item, split = task.items[0], task.splits[0]
    stats = {"path": item.path, "identity": item.identity, "split": split}
    cut = ClipCut(
        options.frames,
        options.resolution,
        options.margin,
        options.smooth,
        options.clip_stride,
        options.max_clips_per_video,
        options.keep_damaged,
    )
    if split == "time":

        def parts(first, last):
            return time_ranges(first, last, options.frames, options.test_fraction)
    else:

        def parts(first, last):
            return {split: (first, last)}

    try:
        clips = face_clips(
            item, worker.detector, cut, options.max_frames_per_video, parts, stats=stats
        )
        records = [
            (
                "clips",
                clip.part,
                schema.clip_example(
                    clip.pixels,
                    source=item.path,
                    identity=item.identity,
                    frame_indices=clip.indices,
                    confidence=clip.confidence,
                ),
            )
            for clip in clips
        ]
    except sources_lib.SkipInput as skip:
        return [], {"skipped": [_skip(item, skip.reason, skip.detail)], "videos": [stats]}
    except Exception as error:  # noqa: BLE001 - see _failed
        return [], {"skipped": [_failed(item, error)], "videos": [stats]}
    stats["clips"] = dict(Counter(name for _, name, _ in records))
    return records, {"skipped": [], "videos": [stats]}


def process(task: Task, worker: Worker) -> tuple[list, dict]:
    """The records of `task` as (kind, split, serialized example), and its summary."""
    return (process_video if task.domain == "videos" else process_stills)(task, worker)
