"""Configs: the paper's settings load, and every mistake names its key."""

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
    assert cfg.train.steps > 0


@pytest.mark.parametrize(
    "name",
    ["celeb_model1", "celeb_model2", "celeb_model3", "pasc_model1", "pasc_model2", "pasc_model3"],
)
def test_paper_settings(name):
    cfg = config.load(ROOT / "configs" / f"{name}.yaml")
    assert (cfg.model.resolution, cfg.model.frames) == (64, 32)
    assert cfg.loss.gradient_penalty == 10 and cfg.loss.cycle == 1000
    assert cfg.loss.facenet_identity == 100
    assert cfg.loss.pixel_identity == 100 and cfg.loss.pixel_identity_form == "l2"
    assert cfg.train.steps == 50_000 and cfg.train.n_critic == 5
    assert cfg.model.variant == "model" + name[-1]
    assert cfg.model.latent_frames == 2 and cfg.model.time_strides == 4


def test_overrides_are_typed():
    cfg = config.from_dict(
        {},
        ["train.steps=7", "model.variant=model2", "loss.cycle=5", "optimizer.learning_rate=2e-4"],
    )
    assert cfg.train.steps == 7 and cfg.model.variant == "model2" and cfg.loss.cycle == 5.0
    assert cfg.optimizer.learning_rate == 2e-4  # YAML 1.1 reads "2e-4" as a string
    with pytest.raises(ConfigError, match="optimizer.learning_rate: expected a number"):
        config.from_dict({}, ["optimizer.learning_rate=fast"])


@pytest.mark.parametrize(
    "data, overrides, key",
    [
        ({"model": {"foo": 1}}, [], "model.foo"),
        ({"bogus": {}}, [], "bogus"),
        ({}, ["train.batchsize=3"], "train.batchsize"),
        ({"train": {"steps": "many"}}, [], "train.steps"),
        ({"train": {"steps": 1.5}}, [], "train.steps"),
        ({"train": {"deterministic": "yes"}}, [], "train.deterministic"),
        ({"model": {"variant": "model4"}}, [], "model.variant"),
        ({"model": {"resolution": 40}}, [], "model.resolution"),
        ({"model": {"frames": 7}}, [], "model.frames"),
        ({"model": {"image_encoder_widths": [8, 16, 32]}}, [], "model.video_encoder_widths"),
        ({"model": {"video_decoder_widths": [8, 16, 32, 64]}}, [], "model.video_decoder_widths"),
        ({"loss": {"cycle": -1}}, [], "loss.cycle"),
        ({"loss": {"pixel_identity_form": "l1"}}, [], "loss.pixel_identity_form"),
        ({}, ["loss.pixel_identity_form=3"], "loss.pixel_identity_form"),
        ({"loss": {"pixel_identity": -1}}, [], "loss.pixel_identity"),
        ({"train": {"batch_size": 0}}, [], "train.batch_size"),
        ({"optimizer": {"decay_start": 1.5}}, [], "optimizer.decay_start"),
        ({"model": "big"}, [], "model"),
    ],
)
def test_errors_name_the_key(data, overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.from_dict(data, overrides)


@pytest.mark.parametrize("channels", [1, 4])
def test_only_rgb_channels(channels):
    # The reader decodes RGB and FaceNet embeds RGB faces: a grey model could not train.
    with pytest.raises(ConfigError, match=r"model\.channels: only 3 \(RGB\) is supported"):
        config.from_dict({"model": {"channels": channels}})


def test_conv_impl_choices_and_the_older_key(capsys):
    assert config.from_dict({}, ["model.conv_impl=custom"]).model.conv_impl == "custom"
    with pytest.raises(ConfigError, match="model.conv_impl: expected one of auto, stock, custom"):
        config.from_dict({}, ["model.conv_impl=fast"])
    # A 0.2-era config or --set: read as the new key, with a one-line notice.
    config._noticed.clear()
    old = config.from_dict({"model": {"conv3d_impl": "taps"}}, ["model.conv3d_impl=taps"])
    assert old.model.conv_impl == "custom" and "conv3d_impl" not in old.to_dict()["model"]
    assert capsys.readouterr().err.strip() == (
        "notice: model.conv3d_impl is now model.conv_impl (read as conv_impl: 'custom')"
    )


def test_config_loads_without_tensorflow():
    # Config errors are reported before TensorFlow loads; the model constants it checks
    # against live in the TF-free idcg_tf.architecture.
    code = (
        "import sys; from idcg_tf import config; config.from_dict({}); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_small_geometry_by_config_alone():
    cfg = config.from_dict({"model": {"resolution": 32, "frames": 8}})
    # 8 frames: three of the four 3D layers stride over time, the latent code has 1 frame.
    assert cfg.model.time_strides == 3 and cfg.model.latent_frames == 1
    assert cfg.model.latent_size == 2


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
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
    assert config.load(name, ["train.steps=3"]) == config.load(
        ROOT / "configs" / f"{Path(name).stem}.yaml", ["train.steps=3"]
    )


def test_an_existing_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny").write_text("train: {steps: 11}\n")
    assert config.load("tiny").train.steps == 11
    assert config.load("tiny.yaml").train.steps != 11  # no such file here: the shipped one


@pytest.mark.parametrize("given", ["tinny", "configs/tinny.yaml", "sub/tiny"])
def test_unknown_name_is_one_line_listing_the_shipped_names(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        config.load(given)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{given}: config file not found")
    assert all(name in message for name in ("tiny", "celeb_model1", "gen_wgan_one_stream"))


def test_yaml_round_trip():
    cfg = config.from_dict({"model": {"variant": "model2"}, "train": {"steps": 3}})
    import yaml

    assert config.from_dict(yaml.safe_load(cfg.to_yaml())) == cfg


def test_identity_score_curve_keys_are_checked():
    cfg = config.from_dict({})
    assert cfg.train.facenet_score_samples >= 64  # the floor for a meaningful curve
    for key in ("facenet_score_samples", "facenet_score_every"):
        with pytest.raises(ConfigError, match=f"train.{key}"):
            config.from_dict({"train": {key: 0}})
