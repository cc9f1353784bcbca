"""Video -> face clips: the one extraction prepare_data and translate both use.

Pass 1 decodes the video and detects faces in every frame (boxes only, so a long video never
sits in memory), keeps the main face track (`faces.main_face_runs`) and smooths its crop boxes;
clips of l consecutive track frames are planned within each part of the video; pass 2 decodes
it again and crops only the frames some clip uses. A video that yields no clip raises
`SkipInput` with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import media
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.prepare.dataset_faces import DatasetFaces

Parts = Callable[[int, int], dict[str, tuple[int, int]]]


@dataclasses.dataclass(frozen=True)
class ClipCut:
    """How clips are cut from a face track and cropped.

    Args:
        frames: l, frames per clip.
        resolution: r, crops are r x r.
        margin: crop side = longer box side * (1 + 2 * margin).
        smooth: sigma, in frames, of the smoothing of crop boxes along a track.
        stride: frames between clip starts; None: `frames` (no overlap).
        max_clips: at most this many clips per part, evenly spaced; 0: all.
        keep_damaged: use frames that decode only with errors (listed either way).
    """

    frames: int
    resolution: int
    margin: float
    smooth: float
    stride: int | None = None
    max_clips: int = 0
    keep_damaged: bool = False


@dataclasses.dataclass(frozen=True)
class FaceClip:
    """One clip: the part it was cut from, its frame indices, uint8 (l, r, r, 3) pixels and
    MTCNN's confidence per frame."""

    part: str
    indices: list[int]
    pixels: np.ndarray
    confidence: list[float]


def _detect_main_face(
    frames, detector: faces_lib.FaceDetector, enough: int, stats: dict, known=None
) -> tuple[list, list[int]]:
    """Pass 1: (frame index, faces) of every decoded frame and the indices of all frames read.
    `known` (a `DatasetFaces`) gives the faces the dataset located; the detector finds the
    rest. With `enough` > 0, reading stops once the main track has a run that long."""
    detections, batch, seen, detected = [], [], [], []
    sources = {"dataset": 0, "detector": 0}

    def flush():
        found = detector.detect([frame for _, frame in batch])
        detections.extend((index, faces) for (index, _), faces in zip(batch, found))
        sources["detector"] += len(batch)
        detected.extend(index for index, _ in batch)
        batch.clear()

    for index, frame in frames:
        seen.append(index)
        if frame is None:  # an unreadable file in a frame folder breaks the run there
            continue
        given = known.get(index, frame) if known else None
        if given is not None:
            detections.append((index, given))
            sources["dataset"] += 1
        else:
            batch.append((index, frame))
        if len(batch) == faces_lib.DETECT_BATCH or (given is not None and enough):
            if batch:
                flush()
            if enough and any(len(r) >= enough for r in faces_lib.main_face_runs(detections)):
                break
    if batch:
        flush()
    detections.sort(key=lambda d: d[0])
    stats.update(
        frames=len(seen),
        unreadable_frames=len(seen) - len(detections),
        face_frames=sum(1 for _, f in detections if f),
        face_sources=sources,
    )
    if known:  # which frames the dataset's faces did not cover
        stats["detected_frames"] = detected
    return detections, seen


def _plan(
    runs: list[faces_lib.Run], parts: dict[str, tuple[int, int]], cut: ClipCut
) -> list[tuple[str, list[int]]]:
    """(part, frame indices) of each clip cut from the runs of one video."""
    plan = []
    for name, (lo, hi) in parts.items():
        clips = []
        for run in runs:
            a, b = max(lo, run.indices[0]), min(hi, run.indices[-1])
            clips += [
                list(range(s, s + cut.frames))
                for s in faces_lib.clip_starts(a, b, cut.frames, cut.stride or cut.frames)
            ]
        if cut.max_clips and len(clips) > cut.max_clips:
            # Evenly spaced rather than the first ones, so the kept clips cover the video.
            keep = np.linspace(0, len(clips) - 1, cut.max_clips).round()
            clips = [clips[int(k)] for k in keep]
        plan += [(name, c) for c in clips]
    return plan


def _track_boxes(runs, cut: ClipCut) -> tuple[dict, dict]:
    """{frame index: smoothed square box} and {frame index: detector confidence} of the runs."""
    boxes: dict[int, tuple[float, float, float]] = {}
    confidence: dict[int, float] = {}
    for run in runs:
        smoothed = faces_lib.smooth_boxes(run.faces, cut.margin, cut.smooth)
        for index, face, box in zip(run.indices, run.faces, smoothed):
            boxes[index], confidence[index] = box, face.confidence
    return boxes, confidence


def _crops(item, limit: int, needed: set, boxes: dict, cut: ClipCut) -> dict:
    """Pass 2 over the video: the crops of the `needed` frames (a frame that fails to decode
    this time is missing)."""
    last, crops = max(needed), {}
    for index, frame in media.iter_video_frames(item, limit, keep_damaged=cut.keep_damaged):
        if index in needed and frame is not None:
            crops[index] = faces_lib.crop_square(frame, *boxes[index], cut.resolution)
        if index >= last:
            break
    return crops


def face_clips(
    item: sources_lib.Item,
    detector: faces_lib.FaceDetector,
    cut: ClipCut,
    limit: int = 0,
    parts: Parts | None = None,
    first_clip_only: bool = False,
    stats: dict | None = None,
) -> list[FaceClip]:
    """The clips of the main face of a video file or frame folder, in part and time order.

    Args:
        item: the video.
        detector: the face detector (its `min_face` and `min_confidence` apply).
        cut: how clips are cut and cropped.
        limit: decode at most this many frames; 0: all.
        parts: (first, last frame index read) -> {part name: inclusive frame range}; clips
            never cross a part's range. None: one part, "clip", the whole video.
        first_clip_only: stop reading as soon as one clip's worth of track is found, and
            keep only the first clip.
        stats: filled with what was found (frames, face frames, runs, the frames that did not
            decode or decode only with errors, with their reasons), also when the video is
            skipped.

    Raises:
        SkipInput: no frame decodes, too few frames, no face, a track too short for a clip.
    """
    stats = {} if stats is None else stats
    length = cut.frames
    problems: list = []
    frames = media.iter_video_frames(item, limit, problems, cut.keep_damaged)
    known = DatasetFaces(item.faces, item.path, detector.min_face) if item.faces else None
    try:
        detections, seen = _detect_main_face(
            frames, detector, length if first_clip_only else 0, stats, known
        )
    finally:
        if problems:
            stats["frame_problems"] = problems
    if not detections:
        raise sources_lib.SkipInput("no frames", "no frame could be decoded")
    if len(seen) < length:
        raise sources_lib.SkipInput("too few frames", f"{len(seen)} frames, a clip needs {length}")
    runs = faces_lib.main_face_runs(detections)
    if not runs:
        raise sources_lib.SkipInput(
            "no face",
            f"no face of at least {detector.min_face} px with "
            f"confidence >= {detector.min_confidence} in "
            f"{len(detections)} frames",
        )
    stats.update(
        track_frames=sum(len(r) for r in runs),
        runs=len(runs),
        longest_run=max(len(r) for r in runs),
    )
    boxes, confidence = _track_boxes(runs, cut)
    ranges = (parts or (lambda first, last: {"clip": (first, last)}))(min(seen), max(seen))
    plan = _plan(runs, ranges, dataclasses.replace(cut, max_clips=1) if first_clip_only else cut)
    if not plan:
        raise sources_lib.SkipInput(
            "track too short",
            (
                f"the longest run of frames with the face is {stats['longest_run']}, a clip needs "
                f"{length}" + (" in one time-split part" if len(ranges) > 1 else "")
            ),
        )
    crops = _crops(item, limit, {i for _, clip in plan for i in clip}, boxes, cut)
    clips = [
        FaceClip(name, clip, np.stack([crops[i] for i in clip]), [confidence[i] for i in clip])
        for name, clip in plan
        if all(i in crops for i in clip)
    ]
    if not clips:
        raise sources_lib.SkipInput(
            "unreadable", "frames decoded on the first pass failed on the second"
        )
    return clips
