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
few frames, ...) is reported as one `Failure` and the others are still done.

The backend is ONNX Runtime when the export has both .onnx files (and onnxruntime is
installed), else the SavedModels of the version export.json names.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from idcg_tf.data import faces as F
from idcg_tf.data import sources as S
from idcg_tf.deploy.export import DIRECTIONS, read_export
from idcg_tf.errors import UserError
from idcg_tf.visualize import sample_sheet, save_gif, save_mp4, save_png, to_uint8

BACKENDS = ("onnx", "tf")


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


class ExportedModel:
    """Both generators of an exported model, on ONNX Runtime or TensorFlow.

    Args:
        model_dir: the export folder (holds export.json).
        backend: "onnx", "tf", or None for ONNX when the export has .onnx files.

    Example:
        >>> model = ExportedModel("exported_models/celeb_model1")
        >>> model.image_to_video(np.zeros([2, 64, 64, 3], np.float32)).shape
        (2, 32, 64, 64, 3)
    """

    def __init__(self, model_dir: str | os.PathLike, backend: str | None = None):
        self.model_dir = Path(model_dir)
        self.meta = read_export(self.model_dir)
        try:
            self.resolution = int(self.meta["resolution"])
            self.frames = int(self.meta["frames"])
            self.channels = int(self.meta.get("channels", 3))
            generators = {d.generator: self.meta["generators"][d.generator] for d in DIRECTIONS}
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{self.model_dir}/export.json: missing or bad field {error}") \
                from None
        onnx_files = {g: self.model_dir / info["onnx"]
                      for g, info in generators.items() if info.get("onnx")}
        if backend is None:
            have_onnx = (len(onnx_files) == len(generators)
                         and all(p.is_file() for p in onnx_files.values()))
            backend = "onnx" if have_onnx and _onnxruntime() is not None else "tf"
        if backend not in BACKENDS:
            raise UserError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        self.backend = backend
        self._run: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
        for d in DIRECTIONS:
            info = generators[d.generator]
            if backend == "onnx":
                if d.generator not in onnx_files:
                    raise UserError(f"{self.model_dir}: exported without ONNX files "
                                    "(--no-onnx); use --backend tf")
                self._run[d.generator] = self._onnx_runner(onnx_files[d.generator], d)
            else:
                self._run[d.generator] = self._tf_runner(self.model_dir / info["saved_model"], d)

    def _onnx_runner(self, path: Path, d) -> Callable:
        ort = _onnxruntime()
        if ort is None:
            raise UserError("--backend onnx needs onnxruntime: pip install -e '.[deploy]'")
        if not path.is_file():
            raise UserError(f"{path}: no such ONNX file (export without --no-onnx, or use "
                            "--backend tf)")
        session = ort.InferenceSession(str(path), providers=ort.get_available_providers())
        return lambda x: session.run([d.output], {d.input: x})[0]

    def _tf_runner(self, path: Path, d) -> Callable:
        import tensorflow as tf

        if not (path / "saved_model.pb").is_file():
            raise UserError(f"{path}: no SavedModel (the version export.json names is gone?)")
        loaded = tf.saved_model.load(str(path), tags=["serve"])
        signature = loaded.signatures["serving_default"]

        def run(x):
            return signature(**{d.input: tf.constant(x)})[d.output].numpy()

        # A signature only holds weak references to the variables of the object it came from.
        run.loaded = loaded
        return run

    def _batched(self, generator: str, x: np.ndarray, batch_size: int) -> np.ndarray:
        x = np.asarray(x, np.float32)
        parts = [self._run[generator](x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)

    def image_to_video(self, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """(N, r, r, c) float32 in [-1, 1] -> (N, l, r, r, c)."""
        return self._batched("image_to_video", images, batch_size)

    def video_to_image(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """(N, l, r, r, c) float32 in [-1, 1] -> (N, r, r, c)."""
        return self._batched("video_to_image", clips, batch_size)


@dataclasses.dataclass(frozen=True)
class Failure:
    """An input that could not be translated, and why."""

    path: str
    reason: str
    detail: str

    def line(self) -> str:
        return f"{self.path}: {self.reason}: {self.detail}"


@dataclasses.dataclass
class TranslateResult:
    translated: list[str] = dataclasses.field(default_factory=list)  # input paths
    written: list[str] = dataclasses.field(default_factory=list)  # output files
    failed: list[Failure] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class MediaInput:
    """One input to translate and where its outputs go."""

    kind: str  # "image" | "video" | "frames"
    path: str
    stem: str  # output path without suffix, relative to the output folder


def _media_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in S.IMAGE_EXTENSIONS:
        return "image"
    if suffix in S.VIDEO_EXTENSIONS:
        return "video"
    return None


def find_inputs(paths: Iterable[str], frames_folders: bool = False
                ) -> tuple[list[MediaInput], list[Failure]]:
    """The inputs named by `paths` (files and folders), and the paths that are none."""
    found: list[MediaInput] = []
    failed: list[Failure] = []
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            failed.append(Failure(given, "not found", "no such file or directory"))
        elif root.is_file():
            kind = _media_kind(root)
            if kind is None:
                failed.append(Failure(given, "unsupported", f"{root.suffix or 'no extension'} "
                                      "is neither an image nor a video extension"))
            else:
                found.append(MediaInput(kind, str(root), root.stem))
        elif frames_folders:
            try:
                items, _ = S.enumerate_source(S.Source("videos", "frames", str(root.resolve())))
            except UserError:
                failed.append(Failure(given, "no frames", "no folder of image files in it"))
                continue
            for item in items:
                rel = Path(item.path).relative_to(root.resolve())
                stem = (Path(root.resolve().name) / rel).as_posix()
                found.append(MediaInput("frames", item.path, stem))
        else:
            files = []
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files += [Path(folder, n) for n in sorted(names) if not n.startswith(".")]
            media = [(f, _media_kind(f)) for f in files]
            media = [(f, k) for f, k in media if k is not None]
            if not media:
                failed.append(Failure(given, "no media", "the folder holds no image or video "
                                      "file (use --frames for frame folders)"))
            for f, kind in media:
                stem = (Path(root.resolve().name) / f.relative_to(root).with_suffix("")).as_posix()
                found.append(MediaInput(kind, str(f), stem))
    # Two inputs must never write the same outputs (a.png and a.jpg, or a file given twice).
    seen: dict[str, int] = {}
    unique = []
    for item in found:
        n = seen.get(item.stem, 0) + 1
        seen[item.stem] = n
        unique.append(item if n == 1 else dataclasses.replace(item, stem=f"{item.stem}_{n}"))
    return unique, failed


class _Work:
    """What translating one batch of inputs needs: model, detector, settings, output."""

    def __init__(self, model: ExportedModel, output: Path, batch_size: int, fps: int,
                 all_clips: bool):
        crop = model.meta.get("face_crop", {})
        self.margin = float(crop.get("margin", 0.2))
        self.min_confidence = float(crop.get("min_confidence", 0.9))
        self.min_face = int(crop.get("min_face", max(1, model.resolution // 2)))
        self.smooth = float(crop.get("smooth", 2.0))
        self.model = model
        self.output = output
        self.batch_size = batch_size
        self.fps = fps
        self.all_clips = all_clips
        self.detector = F.FaceDetector(self.min_face, self.min_confidence)

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

    def no_face(self, where: str) -> S.SkipInput:
        return S.SkipInput("no face", f"no face of at least {self.min_face} px with "
                                      f"confidence >= {self.min_confidence} {where}")

    # --------------------------------------------------------------- stills
    def crop_still(self, path: str) -> np.ndarray:
        image = S.read_image(path)
        h, w = image.shape[:2]
        if min(h, w) < self.min_face:
            raise S.SkipInput("too small", f"{w}x{h} pixels, below the {self.min_face} px "
                                           "smallest face")
        face = F.largest_face(self.detector.detect([image])[0])
        if face is None:
            raise self.no_face("in the image")
        return F.crop_square(image, *F.square_box(face, self.margin), self.model.resolution)

    def stills(self, inputs: Sequence[MediaInput], result: TranslateResult, report) -> None:
        crops, done = [], []
        for item in inputs:
            try:
                crops.append(self.crop_still(item.path))
                done.append(item)
            except S.SkipInput as skip:
                report(Failure(item.path, skip.reason, skip.detail))
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the rest
                report(Failure(item.path, "failed", f"{type(error).__name__}: {error}"))
        if not crops:
            return
        clips = self.to_pixels(self.model.image_to_video(self.to_model(np.stack(crops)),
                                                         self.batch_size))
        for item, crop, clip in zip(done, crops, clips):
            base = self.output / item.stem
            paths = [Path(f"{base}_video.gif"), Path(f"{base}_video.mp4"),
                     Path(f"{base}_strip.png")]
            save_gif(paths[0], clip, self.fps)
            save_mp4(paths[1], clip, self.fps)
            save_png(paths[2], sample_sheet([[crop, *clip]]))
            result.translated.append(item.path)
            result.written += [str(p) for p in paths]

    # --------------------------------------------------------------- videos
    def _frames(self, item: MediaInput):
        kind = "frames" if item.kind == "frames" else "videos"
        return S.iter_video_frames(S.Item("videos", kind, item.path))

    def track(self, item: MediaInput) -> tuple[list[F.Run], int]:
        """The face runs of a video and how many frames were read. Without `all_clips`,
        reading stops as soon as a run is long enough for one clip."""
        frames = self.model.frames
        detections, batch, count = [], [], 0

        def flush():
            found = self.detector.detect([frame for _, frame in batch])
            detections.extend((index, faces) for (index, _), faces in zip(batch, found))
            batch.clear()

        for index, frame in self._frames(item):
            count += 1
            if frame is None:  # an unreadable file in a frame folder breaks the run there
                continue
            batch.append((index, frame))
            if len(batch) == F.DETECT_BATCH:
                flush()
                if not self.all_clips and any(
                        len(r) >= frames for r in F.main_face_runs(detections)):
                    break
        if batch:
            flush()
        if not detections:
            raise S.SkipInput("unreadable", "no frame could be decoded")
        return F.main_face_runs(detections), count

    def clips_of(self, item: MediaInput) -> tuple[np.ndarray, list[int]]:
        """The face clips of a video as uint8 (k, l, r, r, 3), and their first frames."""
        frames = self.model.frames
        runs, count = self.track(item)
        if count < frames:
            raise S.SkipInput("too few frames", f"{count} frames, a clip needs {frames}")
        if not runs:
            raise self.no_face(f"in {count} frames")
        boxes: dict[int, tuple[float, float, float]] = {}
        starts: list[int] = []
        for run in runs:
            for index, box in zip(run.indices,
                                  F.smooth_boxes(run.faces, self.margin, self.smooth)):
                boxes[index] = box
            starts += F.clip_starts(run.indices[0], run.indices[-1], frames, frames)
        if not starts:
            raise S.SkipInput("track too short", (
                f"the longest run of frames with the face is {max(len(r) for r in runs)}, "
                f"a clip needs {frames}"))
        starts = sorted(starts) if self.all_clips else [min(starts)]
        needed = {s + k for s in starts for k in range(frames)}
        last = max(needed)
        crops = {}
        # A second pass crops only the frames the clips use: a long video never sits in memory.
        for index, frame in self._frames(item):
            if index in needed and frame is not None:
                crops[index] = F.crop_square(frame, *boxes[index], self.model.resolution)
            if index >= last:
                break
        clips = [np.stack([crops[s + k] for k in range(frames)]) for s in starts
                 if all(s + k in crops for k in range(frames))]
        if not clips:
            raise S.SkipInput("unreadable", "the clip's frames could not be decoded again")
        return np.stack(clips), starts

    def video(self, item: MediaInput, result: TranslateResult, report) -> None:
        try:
            clips, starts = self.clips_of(item)
        except S.SkipInput as skip:
            report(Failure(item.path, skip.reason, skip.detail))
            return
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the rest
            report(Failure(item.path, "failed", f"{type(error).__name__}: {error}"))
            return
        images = self.to_pixels(self.model.video_to_image(self.to_model(clips),
                                                          self.batch_size))
        base = self.output / item.stem
        paths = []
        for start, image in zip(starts, images):
            path = Path(f"{base}_f{start:05d}_image.png" if self.all_clips
                        else f"{base}_image.png")
            save_png(path, image)
            paths.append(path)
        sheet = Path(f"{base}_sheet.png")
        save_png(sheet, sample_sheet([[*clip, image] for clip, image in zip(clips, images)]))
        result.translated.append(item.path)
        result.written += [str(p) for p in [*paths, sheet]]


def translate_paths(model: ExportedModel, paths: Sequence[str], output: str | os.PathLike,
                    all_clips: bool = False, batch_size: int = 8, frames_folders: bool = False,
                    fps: int = 8, progress: bool = True,
                    report: Callable[[Failure], None] | None = None) -> TranslateResult:
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
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    if fps < 1:
        raise UserError(f"--fps must be at least 1, got {fps}")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    inputs, missing = find_inputs(paths, frames_folders)
    result = TranslateResult()
    bar = tqdm(total=len(inputs), unit="file", desc="translate", disable=not progress,
               dynamic_ncols=True, file=sys.stderr)

    def failed(failure: Failure) -> None:
        result.failed.append(failure)
        if report is not None:
            report(failure)

    for failure in missing:
        failed(failure)
    try:
        if inputs:
            work = _Work(model, output, batch_size, fps, all_clips)
            stills = [i for i in inputs if i.kind == "image"]
            for start in range(0, len(stills), batch_size):
                group = stills[start:start + batch_size]
                work.stills(group, result, failed)
                bar.update(len(group))
            for item in (i for i in inputs if i.kind != "image"):
                work.video(item, result, failed)
                bar.update(1)
    finally:
        bar.close()
    return result
