"""The data preparation pipeline: sources -> face crops and clips -> sharded TFRecords.

`prepare(options)` enumerates the sources (`idcg_tf.prepare.sources`), draws the train/test split
(`idcg_tf.prepare.split`), detects and crops faces in worker processes (`idcg_tf.prepare.pool`
running `idcg_tf.prepare.units`; videos through `idcg_tf.prepare.video_faces`), and writes
``images-<split>-*.tfrecord``, ``clips-<split>-*.tfrecord`` (`idcg_tf.prepare.shards`,
`idcg_tf.data.schema`) and ``manifest.json`` (`idcg_tf.prepare.manifest`) into the output folder.

Resuming: every unit of work (one video, or a chunk of still images) leaves its records and a
summary in ``<output>/.work/<fingerprint>/`` before it counts as done; a rerun with the same
options and inputs skips the done units, so an interrupted run completes without redoing or
duplicating them. Shards and the manifest are written only at the end, each to a temporary
name renamed into place; shards of an earlier run that the new one does not produce are
removed, so a reader globbing ``images-train-*`` never mixes two runs. The work folder is
deleted after a successful run unless `keep_work` is set.

Splits: a person (identity) or, where none is known, a file is the unit; for each domain the
units are ordered by a seeded hash (of the identity, or of the file's path relative to the folder
holding all inputs: the same split wherever the data sit) and the first `test_fraction` of them
go to test. Records are written in a seeded order keyed the same way. A unit in
test in one domain is in test in both (PaSC people have stills and videos); CelebA's official
partition, when given, decides its units. With `time_split`, each video without an identity is
split in time instead: its last `test_fraction` of frames are test, separated from the train
frames by a gap of one clip. That gives a single-video demo a test split, at the price that
test clips show the same person as train clips (the manifest says so).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from idcg_tf.errors import UserError
from idcg_tf.fileio import write_atomically
from idcg_tf.prepare import crop
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.prepare.manifest import MANIFEST, build_manifest, source_options
from idcg_tf.prepare.pool import run_all
from idcg_tf.prepare.shards import write_shards
from idcg_tf.prepare.split import assign_splits
from idcg_tf.prepare.units import fingerprint, make_tasks

WORK_DIR = ".work"


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
    margin: float = crop.MARGIN  # crop side = longer box side * (1 + 2 * margin)
    min_confidence: float = crop.MIN_CONFIDENCE  # MTCNN confidence below which to ignore
    min_face: int | None = None  # smallest face (and image) side in pixels; default r // 2
    smooth: float = crop.SMOOTH  # sigma, in frames, of the smoothing of boxes along a track
    frontal_only: bool = False  # keep only stills the Haar frontal cascade also accepts
    test_fraction: float = 0.1
    time_split: bool = False  # split identity-less videos in time (see the module doc)
    seed: int = 0
    shards: int = 0  # shards per (kind, split); 0: about one per 64 MiB
    workers: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)  # 1: inline
    max_frames_per_video: int = 0  # decode at most this many frames per video; 0: all
    max_clips_per_video: int = 0  # keep at most this many clips per video and split; 0: all
    keep_work: bool = False  # keep the per-input cache after a successful run
    keep_damaged: bool = False  # use JPEGs that decode only with errors (listed either way)

    def resolved(self) -> PrepareOptions:
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
        min_face = (
            crop.default_min_face(self.resolution) if self.min_face is None else self.min_face
        )
        need(min_face >= 1, "min-face", "at least 1", min_face)
        need(self.smooth >= 0, "smooth", "at least 0", self.smooth)
        need(0 <= self.test_fraction < 1, "test-fraction", "in [0, 1)", self.test_fraction)
        need(self.shards >= 0, "shards", "at least 0", self.shards)
        need(self.workers >= 1, "workers", "at least 1", self.workers)
        need(
            self.max_frames_per_video >= 0,
            "max-frames-per-video",
            "at least 0",
            self.max_frames_per_video,
        )
        need(
            self.max_clips_per_video >= 0,
            "max-clips-per-video",
            "at least 0",
            self.max_clips_per_video,
        )
        return dataclasses.replace(
            self,
            images=tuple(self.images),
            videos=tuple(self.videos),
            clip_stride=stride,
            min_face=min_face,
        )


@dataclasses.dataclass(frozen=True)
class PrepareResult:
    """What a run wrote: `written` records in all, and the manifest (also on disk)."""

    output: str
    written: int
    manifest: dict


def _enumerate(options: PrepareOptions):
    sources = [sources_lib.parse_source(s, "images") for s in options.images] + [
        sources_lib.parse_source(s, "videos") for s in options.videos
    ]
    items: list[sources_lib.Item] = []
    rejected: list[sources_lib.Rejected] = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        found, bad = sources_lib.enumerate_source(source)
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
    inputs = {
        domain: dict(Counter(splits[i.path] for i in items if i.domain == domain))
        for domain in ("images", "videos")
    }
    return {
        "options": source_options(options, sources),
        "inputs_per_split": inputs,
        "not_inputs": dict(Counter(r.reason for r in rejected)),
    }


def prepare(options: PrepareOptions, progress: bool = True) -> PrepareResult:
    """Runs the whole pipeline; see the module docstring. Bad paths raise `UserError`."""
    options = options.resolved()
    sources, items, rejected, splits = _enumerate(options)
    output = Path(options.output).expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {options.output}: exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    work_dir = output / WORK_DIR / fingerprint(options)
    work_dir.mkdir(parents=True, exist_ok=True)

    tasks = make_tasks(items, splits)
    summaries = run_all(tasks, options, work_dir, progress)
    shards = write_shards(output, work_dir, tasks, summaries, options.shards, options.seed)
    manifest = build_manifest(options, sources, items, rejected, splits, summaries, shards)
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
    lines = [
        f"wrote {c['train']['images'] + c['test']['images']} images "
        f"(train {c['train']['images']}, test {c['test']['images']}) and "
        f"{c['train']['clips'] + c['test']['clips']} clips "
        f"(train {c['train']['clips']}, test {c['test']['clips']}) to {result.output}"
    ]
    if m["skipped"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in m["skipped_summary"].items())
        lines.append(f"skipped {len(m['skipped'])} inputs: {reasons} (each listed in {MANIFEST})")
    if m["damaged_kept"]:
        lines.append(
            f"kept {len(m['damaged_kept'])} damaged images (--keep-damaged; listed in {MANIFEST})"
        )
    if m["frame_problems"]:
        reasons = Counter(p["reason"] for p in m["frame_problems"])
        lines.append(
            f"{len(m['frame_problems'])} video frames did not decode or decoded only with "
            f"errors ({', '.join(f'{r} {n}' for r, n in reasons.most_common())}; listed in "
            f"{MANIFEST} under frame_problems)"
        )
    lines += m["notes"]
    return "\n".join(lines)
