"""Configs: the paper's settings load, and every mistake names its key."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from idcg_tf import config, configs
from idcg_tf.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = config.load(path)
    assert cfg.trainer.steps > 0


@pytest.mark.parametrize(
    "name",
    ["celeb_model1", "celeb_model2", "celeb_model3", "pasc_model1", "pasc_model2", "pasc_model3"],
)
def test_paper_settings(name):
    cfg = config.load(ROOT / "configs" / f"{name}.yaml")
    assert (cfg.task.model.resolution, cfg.task.model.frames) == (64, 32)
    assert cfg.task.loss.gradient_penalty_weight == 10 and cfg.task.loss.cycle_weight == 1000
    assert cfg.task.loss.facenet_identity_weight == 100
    assert cfg.task.loss.pixel_identity_weight == 100 and cfg.task.loss.pixel_identity_form == "l2"
    assert cfg.trainer.steps == 50_000 and cfg.trainer.n_critic == 5
    assert cfg.task.variant == "model" + name[-1]
    assert cfg.task.model.latent_frames == 2 and cfg.task.model.time_strides == 4


def test_overrides_are_typed():
    cfg = config.from_dict(
        {},
        [
            "trainer.steps=7",
            "task.variant=model2",
            "task.loss.cycle_weight=5",
            "optimizer.learning_rate=2e-4",
        ],
    )
    assert cfg.trainer.steps == 7 and cfg.task.variant == "model2"
    assert cfg.task.loss.cycle_weight == 5.0
    assert cfg.optimizer.learning_rate == 2e-4  # YAML 1.1 reads "2e-4" as a string
    with pytest.raises(ConfigError, match="optimizer.learning_rate: expected a number"):
        config.from_dict({}, ["optimizer.learning_rate=fast"])


@pytest.mark.parametrize(
    "data, overrides, key",
    [
        ({"task": {"model": {"foo": 1}}}, [], "task.model.foo"),
        ({"bogus": {}}, [], "bogus"),
        ({}, ["trainer.batchsize=3"], "trainer.batchsize"),
        ({"trainer": {"steps": "many"}}, [], "trainer.steps"),
        ({"trainer": {"steps": 1.5}}, [], "trainer.steps"),
        ({"trainer": {"deterministic": "yes"}}, [], "trainer.deterministic"),
        ({"task": {"variant": "model4"}}, [], "task.variant"),
        ({"task": {"type": "videos"}}, [], "task.type"),
        ({}, ["task.model.resolution=40"], "task.model.resolution"),
        ({}, ["task.model.frames=7"], "task.model.frames"),
        ({}, ["task.model.image_encoder_widths=[8, 16, 32]"], "task.model.image_encoder_widths"),
        ({}, ["task.model.video_decoder_widths=[8, 16, 32, 64]"], "task.model.image_encoder_"),
        ({}, ["task.loss.cycle_weight=-1"], "task.loss.cycle_weight"),
        ({}, ["task.loss.pixel_identity_form=l1"], "task.loss.pixel_identity_form"),
        ({}, ["task.loss.pixel_identity_form=3"], "task.loss.pixel_identity_form"),
        ({}, ["task.loss.pixel_identity_weight=-1"], "task.loss.pixel_identity_weight"),
        ({}, ["trainer.batch_size=0"], "trainer.batch_size"),
        ({}, ["trainer.strategy=cluster"], "trainer.strategy"),
        ({}, ["task.data.on_corrupt=ignore"], "task.data.on_corrupt"),
        ({"optimizer": {"decay_start": 1.5}}, [], "optimizer.decay_start"),
        ({"task": {"model": "big"}}, [], "task.model"),
        ({"trainer": "long"}, [], "trainer"),
    ],
)
def test_errors_name_the_key(data, overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.from_dict(data, overrides)


def test_sections_follow_their_owners():
    # task: what is learned (model, losses with their *_weight, data); trainer: how long and
    # how; optimizer: Adam. Each section checks itself.
    cfg = config.from_dict({})
    assert [f.name for f in dataclasses.fields(cfg)][:3] == ["task", "trainer", "optimizer"]
    assert set(cfg.to_dict()["task"]) == {"type", "variant", "model", "loss", "data"}
    weights = [k for k in cfg.to_dict()["task"]["loss"] if k.endswith("_weight")]
    assert weights == [
        "gradient_penalty_weight",
        "cycle_weight",
        "pixel_identity_weight",
        "facenet_identity_weight",
    ]
    for section in (cfg.task, cfg.trainer, cfg.optimizer):
        assert callable(section.validate)


LEGACY = {
    "task": "translation",
    "model": {"variant": "model2", "resolution": 32, "frames": 8, "conv3d_impl": "taps"},
    "loss": {"cycle": 500, "pixel_identity": 3000, "facenet_frame_step": 2},
    "data": {"train_clips": "clips-*.tfrecord"},
    "train": {"steps": 9, "mixed_precision": "mixed_bfloat16"},
    "optimizer": {"learning_rate": 0.001},
}


def test_a_02_era_config_and_set_keys_read_as_the_current_ones(capsys):
    config._noticed.clear()
    old = config.from_dict(LEGACY, ["train.n_critic=2", "loss.gradient_penalty=20"])
    new = config.from_dict(
        {
            "task": {
                "type": "translation",
                "variant": "model2",
                "model": {"resolution": 32, "frames": 8, "conv_impl": "custom"},
                "loss": {
                    "cycle_weight": 500,
                    "pixel_identity_weight": 3000,
                    "facenet_frame_step": 2,
                    "gradient_penalty_weight": 20,
                },
                "data": {"train_clips": "clips-*.tfrecord"},
            },
            "trainer": {"steps": 9, "mixed_precision": "mixed_bfloat16", "n_critic": 2},
            "optimizer": {"learning_rate": 0.001},
        }
    )
    assert old == new
    notice = capsys.readouterr().err.strip()
    assert "\n" not in notice and notice.startswith("notice: 0.2-era config keys read as")
    assert "loss.cycle -> task.loss.cycle_weight" in notice
    assert "train.* -> trainer.*" in notice and "docs/configuration.md" in notice
    # One notice per distinct mapping, not one per load.
    config.from_dict(LEGACY, ["train.n_critic=2", "loss.gradient_penalty=20"])
    assert capsys.readouterr().err == ""


def test_old_set_keys_on_a_current_file(capsys):
    config._noticed.clear()
    cfg = config.load("tiny", ["train.steps=3", "model.variant=model3", "model.conv3d_impl=matmul"])
    assert (cfg.trainer.steps, cfg.task.variant, cfg.task.model.conv_impl) == (
        3,
        "model3",
        "custom",
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tiny.yaml: 0.2-era config keys" in err
    assert "model.variant -> task.variant" in err


def test_a_saved_02_run_config_loads(tmp_path):
    # What a 0.2 run's workdir holds: every key of the old sections (generation included).
    run = tmp_path / "config.yaml"
    run.write_text(
        "task: translation\nmodel: {variant: model1, conv3d_impl: auto}\n"
        "loss: {gradient_penalty: 10.0, cycle: 1000.0}\ntrain: {steps: 2}\n"
        "generation: {model: '', noise_dim: 100, code_channels: 512, mask_sparsity: 0.1}\n"
    )
    cfg = config.load(run)
    assert cfg.task.type == "translation" and cfg.trainer.steps == 2


@pytest.mark.parametrize("channels", [1, 4])
def test_only_rgb_channels(channels):
    # The reader decodes RGB and FaceNet embeds RGB faces: a grey model could not train.
    with pytest.raises(ConfigError, match=r"task\.model\.channels: only 3 \(RGB\) is supported"):
        config.from_dict({"task": {"model": {"channels": channels}}})


def test_conv_impl_choices_and_the_older_key(capsys):
    assert config.from_dict({}, ["task.model.conv_impl=custom"]).task.model.conv_impl == "custom"
    with pytest.raises(ConfigError, match="task.model.conv_impl: expected one of auto, stock"):
        config.from_dict({}, ["task.model.conv_impl=fast"])
    # The key of before the one convolution subsystem, in either layout: read as conv_impl.
    config._noticed.clear()
    old = config.from_dict({"task": {"model": {"conv3d_impl": "taps"}}})
    assert old.task.model.conv_impl == "custom"
    assert "conv3d_impl" not in old.to_dict()["task"]["model"]
    assert "task.model.conv3d_impl -> task.model.conv_impl" in capsys.readouterr().err


def test_config_loads_without_tensorflow():
    # Config errors are reported before TensorFlow loads; the model constants it checks
    # against live in the TF-free idcg_tf.architecture.
    code = (
        "import sys; from idcg_tf import config; config.from_dict({}); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_small_geometry_by_config_alone():
    cfg = config.from_dict({"task": {"model": {"resolution": 32, "frames": 8}}})
    # 8 frames: three of the four 3D layers stride over time, the latent code has 1 frame.
    assert cfg.task.model.time_strides == 3 and cfg.task.model.latent_frames == 1
    assert cfg.task.model.latent_size == 2


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        config.load(bad)


def test_top_level_configs_folder_is_the_shipped_one():
    # A clone's configs/ (what the README and the configs' headers name) and the package data a
    # pip install ships are the same files.
    assert [p.stem for p in CONFIGS] == configs.names()
    assert {"tiny", "celeb_model1", "demo"} <= set(configs.names())
    assert (ROOT / "configs").resolve() == configs.FOLDER.resolve()


@pytest.mark.parametrize("name", ["tiny", "tiny.yaml", "celeb_model1"])
def test_load_by_name_from_any_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.load(name, ["trainer.steps=3"]) == config.load(
        ROOT / "configs" / f"{Path(name).stem}.yaml", ["trainer.steps=3"]
    )


def test_an_existing_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny").write_text("trainer: {steps: 11}\n")
    assert config.load("tiny").trainer.steps == 11
    assert config.load("tiny.yaml").trainer.steps != 11  # no such file here: the shipped one


@pytest.mark.parametrize("given", ["tinny", "configs/tinny.yaml", "sub/tiny"])
def test_unknown_name_is_one_line_listing_the_shipped_names(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        config.load(given)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{given}: config file not found")
    assert all(name in message for name in ("tiny", "celeb_model1", "gen_wgan_one_stream"))


def test_yaml_round_trip():
    cfg = config.from_dict({"task": {"variant": "model2"}, "trainer": {"steps": 3}})
    import yaml

    assert config.from_dict(yaml.safe_load(cfg.to_yaml())) == cfg


def test_identity_score_curve_keys_are_checked():
    cfg = config.from_dict({})
    assert cfg.trainer.facenet_score_samples >= 64  # the floor for a meaningful curve
    for key in ("facenet_score_samples", "facenet_score_every"):
        with pytest.raises(ConfigError, match=f"trainer.{key}"):
            config.from_dict({"train": {key: 0}})


OLD_CONFIGS = sorted((ROOT / "tests" / "configs_02").glob("*.yaml"))


@pytest.mark.parametrize("old", OLD_CONFIGS, ids=lambda p: p.name)
def test_the_02_configs_read_as_the_current_ones(old):
    # tests/configs_02 holds the shipped configs as version 0.2 wrote them (every section of
    # the old layout, generation configs with the translator's keys): each reads as its
    # current file does.
    assert config.load(old) == config.load(ROOT / "configs" / old.name)
