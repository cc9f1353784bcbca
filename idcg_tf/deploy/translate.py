"""Translating face media with an exported model (a folder written by tools/export.py).

Inputs, each a file or a folder:

    still image (jpg, png, bmp, webp)   the largest face is detected and cropped as
                                        prepare_data does, translated to a clip, written as
                                        <stem>_video.gif, <stem>_video.mp4 and
                                        <stem>_strip.png (input | frames)
    video file (mp4, avi, mov, mkv, webm), or a frame folder (with `frames_folders`)
                                        the main face is tracked, the first clip of l frames
                                        with the face (or every one) is cropped and
                                        translated to <stem>_image.png, plus
                                        <stem>_sheet.png (frames | image, a row per clip)
    folder                              every image and video in it, recursively; outputs
                                        keep the folder's layout under the output folder

Crop settings (margin, detector thresholds, box smoothing), resolution and clip length come
from the export's export.json. An input that cannot be translated (unreadable, no face, too
few frames, ...) is reported as one `Failure` and the others are still done. With a FaceNet
embedder, each translation's FaceNet distance to its input (Eq. 8) is measured and written to
<output>/facenet_distances.json.

Inputs are found by `idcg_tf.deploy.media_inputs`, the model runs in
`idcg_tf.deploy.exported_model`, faces of videos come from `idcg_tf.prepare.video_faces` (the
extraction prepare_data uses).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from idcg_tf.deploy.exported_model import ExportedModel
from idcg_tf.deploy.media_inputs import Failure, MediaInput, find_inputs
from idcg_tf.errors import UserError
from idcg_tf.identity.scoring import (
    DEFAULT_THRESHOLD,
    THRESHOLD_SOURCE,
    Embed,
    embed_in_chunks,
    image_to_video_distances,
)
from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import media
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.prepare.crop import crop_settings
from idcg_tf.prepare.video_faces import ClipCut, face_clips
from idcg_tf.visualize import sample_sheet, save_gif, save_mp4, save_png, to_uint8

FACENET_FILE = "facenet_distances.json"


@dataclasses.dataclass
class Translated:
    """One input's translation: the face pixels that went in, what came out, the files written,
    and (when scoring) the FaceNet distance of each translation to its input (Eq. 8).

    A still gives one translation: `faces` (r, r, 3), `output` (l, r, r, 3). A video gives one
    per clip: `faces` (k, l, r, r, 3), `output` (k, r, r, 3). All uint8 RGB.
    """

    input: MediaInput
    faces: np.ndarray
    output: np.ndarray
    files: list[str]
    distances: list[float] | None = None

    def records(self, threshold: float) -> list[dict]:
        """One JSON-able row per translation (no pixels)."""
        rows = []
        for k, distance in enumerate(self.distances or []):
            rows.append(
                {
                    "input": self.input.path,
                    "output": self.files[k],
                    "facenet_distance": round(distance, 6),
                    "same_person": distance <= threshold,
                }
            )
        return rows


@dataclasses.dataclass
class TranslateResult:
    translated: list[str] = dataclasses.field(default_factory=list)  # input paths
    written: list[str] = dataclasses.field(default_factory=list)  # output files
    failed: list[Failure] = dataclasses.field(default_factory=list)
    scores: list[dict] = dataclasses.field(default_factory=list)  # Translated.records rows


class Translator:
    """Translates single inputs or groups of stills with an exported model: the face detection
    and crop of prepare_data (settings from the export's export.json), the model, the files.

    `idcg-translate` runs it over files and folders (`translate_paths`); `idcg-app` calls it once
    per upload. Inputs that cannot be translated raise `SkipInput` (reason, detail).

    Args:
        model: the exported model.
        output: folder the files are written into (created).
        batch_size: samples per model call.
        fps: frame rate of the GIFs and MP4s.
        all_clips: translate every clip of a video, not only the first.
        embed: a FaceNet embedder (`idcg_tf.identity.scoring.compiled_embedder`) to measure the
            distance between each input face and its translation; None does not measure.
    """

    def __init__(
        self,
        model: ExportedModel,
        output: str | os.PathLike,
        batch_size: int = 8,
        fps: int = 8,
        all_clips: bool = False,
        embed: Embed | None = None,
    ):
        if batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {batch_size}")
        if fps < 1:
            raise UserError(f"--fps must be at least 1, got {fps}")
        settings = crop_settings(model.resolution, model.meta.get("face_crop"))
        self.min_confidence = settings["min_confidence"]
        self.min_face = settings["min_face"]
        self.cut = ClipCut(model.frames, model.resolution, settings["margin"], settings["smooth"])
        self.model = model
        self.output = Path(output)
        self.batch_size = batch_size
        self.fps = fps
        self.all_clips = all_clips
        self.embed = embed
        self.detector = faces_lib.FaceDetector(self.min_face, self.min_confidence)

    # --------------------------------------------------------------- pixels in and out
    def to_model(self, crops: np.ndarray) -> np.ndarray:
        """uint8 RGB crops -> float32 in [-1, 1] with the model's channels."""
        x = crops.astype(np.float32) / 127.5 - 1.0
        if self.model.channels == 1:
            x = x.mean(axis=-1, keepdims=True)
        return x

    @staticmethod
    def to_pixels(x: np.ndarray) -> np.ndarray:
        """[-1, 1] model output -> uint8 RGB."""
        pixels = to_uint8(x)
        return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels

    def distances(self, images: np.ndarray, clips: np.ndarray) -> list[float] | None:
        """Eq. 8 per (image, clip) pair of uint8 RGB pixels, as the files show them: the mean
        over the clip's frames of the FaceNet distance to the image."""
        if self.embed is None:
            return None
        n, frames = clips.shape[:2]
        faces = np.concatenate([images, clips.reshape(-1, *images.shape[1:])])
        emb = embed_in_chunks(self.embed, faces.astype(np.float32) / 127.5 - 1.0, 64)
        d = image_to_video_distances(emb[:n], emb[n:].reshape(n, frames, -1))
        return [float(x) for x in d]

    def _files(self, item: MediaInput, suffixes: Sequence[str]) -> list[Path]:
        base = self.output / item.stem
        base.parent.mkdir(parents=True, exist_ok=True)
        return [Path(f"{base}{suffix}") for suffix in suffixes]

    # --------------------------------------------------------------- stills
    def crop_still(self, path: str) -> np.ndarray:
        image = media.read_image(path)
        h, w = image.shape[:2]
        if min(h, w) < self.min_face:
            raise sources_lib.SkipInput(
                "too small", f"{w}x{h} pixels, below the {self.min_face} px smallest face"
            )
        face = faces_lib.largest_face(self.detector.detect([image])[0])
        if face is None:
            raise sources_lib.SkipInput(
                "no face",
                f"no face of at least {self.min_face} px with "
                f"confidence >= {self.min_confidence} in the image",
            )
        return faces_lib.crop_square(
            image, *faces_lib.square_box(face, self.cut.margin), self.cut.resolution
        )

    def stills(
        self, inputs: Sequence[MediaInput], report: Callable[[Failure], None]
    ) -> list[Translated]:
        """Still images -> clips, in one model call per `batch_size`; an input that cannot be
        translated is reported and left out."""
        crops, done = [], []
        for item in inputs:
            try:
                crops.append(self.crop_still(item.path))
                done.append(item)
            except sources_lib.SkipInput as skip:
                report(Failure(item.path, skip.reason, skip.detail))
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the rest
                report(Failure(item.path, "failed", f"{type(error).__name__}: {error}"))
        if not crops:
            return []
        crops = np.stack(crops)
        clips = self.to_pixels(self.model.image_to_video(self.to_model(crops), self.batch_size))
        distances = self.distances(crops, clips)
        results = []
        for k, (item, crop, clip) in enumerate(zip(done, crops, clips)):
            gif, mp4, strip = self._files(item, ("_video.gif", "_video.mp4", "_strip.png"))
            save_gif(gif, clip, self.fps)
            save_mp4(mp4, clip, self.fps)
            save_png(strip, sample_sheet([[crop, *clip]]))
            mine = None if distances is None else distances[k : k + 1]
            results.append(Translated(item, crop, clip, [str(mp4), str(gif), str(strip)], mine))
        return results

    def still(self, item: MediaInput) -> Translated:
        """One still image -> clip; raises `SkipInput` when it cannot be translated."""
        failures: list[Failure] = []
        done = self.stills([item], failures.append)
        if failures:
            raise sources_lib.SkipInput(failures[0].reason, failures[0].detail)
        return done[0]

    # --------------------------------------------------------------- videos
    def clips_of(self, item: MediaInput) -> tuple[np.ndarray, list[int]]:
        """The face clips of a video as uint8 (k, l, r, r, 3), and their first frames; without
        `all_clips` only the first clip, and reading stops once it is found."""
        video = sources_lib.Item(
            "videos", "frames" if item.kind == "frames" else "videos", item.path
        )
        clips = face_clips(video, self.detector, self.cut, first_clip_only=not self.all_clips)
        return np.stack([c.pixels for c in clips]), [c.indices[0] for c in clips]

    def video(self, item: MediaInput) -> Translated:
        """A video (or frame folder) -> an image per face clip; raises `SkipInput` when it
        cannot be translated."""
        try:
            clips, starts = self.clips_of(item)
        except sources_lib.SkipInput:
            raise
        except Exception as error:  # a damaged file of any kind: one line, not a traceback
            raise sources_lib.SkipInput("failed", f"{type(error).__name__}: {error}") from None
        images = self.to_pixels(self.model.video_to_image(self.to_model(clips), self.batch_size))
        names = [f"_f{start:05d}_image.png" if self.all_clips else "_image.png" for start in starts]
        *paths, sheet = self._files(item, [*names, "_sheet.png"])
        for path, image in zip(paths, images):
            save_png(path, image)
        save_png(sheet, sample_sheet([[*clip, image] for clip, image in zip(clips, images)]))
        files = [str(p) for p in [*paths, sheet]]
        return Translated(item, clips, images, files, self.distances(images, clips))


def translate_paths(
    model: ExportedModel,
    paths: Sequence[str],
    output: str | os.PathLike,
    all_clips: bool = False,
    batch_size: int = 8,
    frames_folders: bool = False,
    fps: int = 8,
    progress: bool = True,
    report: Callable[[Failure], None] | None = None,
    embed: Embed | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    done: Callable[[Translated], None] | None = None,
) -> TranslateResult:
    """Translates every input under `paths` into `output`; see the module doc.

    Args:
        model: the exported model.
        paths: files and folders.
        output: the output folder (created).
        all_clips: translate every clip of a video, not only the first.
        batch_size: samples per model call; still images are also read in groups this size.
        frames_folders: folders are frame folders (one video per folder of images).
        fps: frame rate of the written GIFs and MP4s.
        progress: show a progress bar over the inputs (on stderr).
        report: called with each failure as it happens.
        embed: a FaceNet embedder: measure each translation's distance to its input and write
            them to `output`/facenet_distances.json (`FACENET_FILE`).
        threshold: FaceNet's same-person threshold for that file's `same_person`.
        done: called with each translated input as it is done.
    """
    from tqdm import tqdm

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    work = Translator(model, output, batch_size, fps, all_clips, embed)
    inputs, missing = find_inputs(paths, frames_folders)
    result = TranslateResult()
    bar = tqdm(
        total=len(inputs),
        unit="file",
        desc="translate",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )

    def failed(failure: Failure) -> None:
        result.failed.append(failure)
        if report is not None:
            report(failure)

    def finished(translated: Translated) -> None:
        result.translated.append(translated.input.path)
        result.written += translated.files
        result.scores += translated.records(threshold)
        if done is not None:
            done(translated)

    for failure in missing:
        failed(failure)
    try:
        stills = [i for i in inputs if i.kind == "image"]
        for start in range(0, len(stills), batch_size):
            group = stills[start : start + batch_size]
            for translated in work.stills(group, failed):
                finished(translated)
            bar.update(len(group))
        for item in (i for i in inputs if i.kind != "image"):
            try:
                finished(work.video(item))
            except sources_lib.SkipInput as skip:
                failed(Failure(item.path, skip.reason, skip.detail))
            bar.update(1)
    finally:
        bar.close()
    if embed is not None:
        write_distances(output / FACENET_FILE, result.scores, threshold)
    return result


def write_distances(path: Path, rows: list[dict], threshold: float) -> None:
    """The FaceNet distances of a translate run as JSON: each translation's row, the threshold
    and where it comes from, and the mean."""
    distances = [row["facenet_distance"] for row in rows]
    summary = {
        "threshold": threshold,
        "threshold_note": THRESHOLD_SOURCE,
        "translations": len(rows),
        "mean_facenet_distance": round(float(np.mean(distances)), 6) if rows else None,
        "same_person": sum(row["same_person"] for row in rows),
        "rows": rows,
    }
    path.write_text(json.dumps(summary, indent=2) + "\n")
