"""The four networks: shapes at paper and tiny size, config round trips, save/reload."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from idcg_tf import config
from idcg_tf.layers import ResidualBlock, VideoConv, VideoConvTranspose
from idcg_tf.models import ImageCritic, ImageToVideo, VideoCritic, VideoToImage, build_networks

TINY = dict(encoder_widths=(4, 8, 8, 16), decoder_widths=(8, 8, 4), residual_blocks=1)


def test_paper_size_shapes():
    nets = build_networks(config.from_dict({}).task.model)
    image, video = (None, 64, 64, 3), (None, 32, 64, 64, 3)
    assert nets.image_to_video.compute_output_shape(image) == (None, 32, 64, 64, 3)
    assert nets.video_to_image.compute_output_shape(video) == (None, 64, 64, 3)
    x = tf.zeros([1, 64, 64, 3])
    assert nets.image_to_video(x).shape == (1, 32, 64, 64, 3)
    assert nets.image_critic(x).shape == (1, 1)


@pytest.mark.parametrize("frames, resolution", [(8, 32), (4, 16), (32, 32), (2, 32)])
def test_other_geometries(frames, resolution):
    g_y = ImageToVideo(frames=frames, **TINY)
    g_x = VideoToImage(frames=frames, **TINY)
    c_y = VideoCritic((4, 8, 8, 16), frames=frames)
    x = tf.random.uniform([2, resolution, resolution, 3], -1, 1)
    y = g_y(x, training=True)
    assert y.shape == (2, frames, resolution, resolution, 3)
    assert g_x(y).shape == (2, resolution, resolution, 3)
    assert c_y(y).shape == (2, 1)
    assert float(tf.reduce_max(tf.abs(y))) <= 1.0  # tanh output


@pytest.mark.parametrize(
    "make, shape, names",
    [
        (
            lambda: ImageToVideo(frames=8, **TINY),
            (2, 32, 32, 3),
            ["conv0+bn0+relu", "conv1+bn1+relu", "res2_0", "conv2+bn2+relu", "res3_0"]
            + ["conv3+bn3+relu", "channels_to_time", "deconv0+bn0+relu", "deconv1+bn1+relu"]
            + ["deconv2+bn2+relu", "deconv3+tanh"],
        ),
        (
            lambda: VideoToImage(frames=8, **TINY),
            (2, 8, 32, 32, 3),
            ["conv0+bn0+relu", "conv1+bn1+relu", "res2_0", "conv2+bn2+relu", "res3_0"]
            + ["conv3+bn3+relu", "time_to_channels", "deconv0+bn0+relu", "deconv1+bn1+relu"]
            + ["deconv2+bn2+relu", "deconv3+tanh"],
        ),
    ],
)
def test_translator_steps_compute_the_translator(make, shape, names):
    """`steps()` (what `benchmark layers` times one by one) is what calling the translator runs:
    applied one after the other, the same output, in inference and in training."""
    g = make()
    x = tf.random.uniform(shape, -1, 1)
    for training in (False, True):
        want = g(x, training=training)
        steps = g.steps(training=training)
        assert [name for name, _ in steps] == names
        y = x
        for _, step in steps:
            y = step(y)
        np.testing.assert_allclose(y.numpy(), want.numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: ImageToVideo(frames=8, **TINY), (2, 32, 32, 3)),
        (lambda: VideoToImage(frames=8, **TINY), (2, 8, 32, 32, 3)),
        (lambda: ImageCritic((4, 8, 8, 16)), (2, 32, 32, 3)),
        (lambda: VideoCritic((4, 8, 8, 16), frames=8), (2, 8, 32, 32, 3)),
        (lambda: VideoCritic((4, 8, 8, 16), frames=8, form="ivgan"), (2, 8, 32, 32, 3)),
        (lambda: VideoCritic((4, 8, 8, 16), frames=8, form="four_conv"), (2, 8, 32, 32, 3)),
    ],
)
def test_config_round_trip_and_save_reload(make, shape, tmp_path):
    model = make()
    x = tf.random.uniform(shape, -1, 1)
    model(x, training=True) if not isinstance(model, (ImageCritic, VideoCritic)) else model(x)
    clone = model.__class__.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


@pytest.mark.parametrize(
    "layer, shape, out",
    [
        (VideoConv(5, 4, (2, 2, 2)), (1, 8, 16, 16, 3), (1, 4, 8, 8, 5)),
        (VideoConv(5, 4, (1, 2, 2)), (1, 8, 16, 16, 3), (1, 8, 8, 8, 5)),
        (VideoConvTranspose(5, 4, (2, 2, 2)), (1, 2, 4, 4, 3), (1, 4, 8, 8, 5)),
        (ResidualBlock(rank=3), (1, 4, 8, 8, 6), (1, 4, 8, 8, 6)),
        (ResidualBlock(rank=2), (1, 8, 8, 6), (1, 8, 8, 6)),
    ],
)
def test_layers(layer, shape, out):
    assert layer(tf.zeros(shape)).shape == out
    assert layer.__class__.from_config(layer.get_config()).get_config() == layer.get_config()


def test_critic_has_no_batchnorm():
    # WGAN-GP penalises each sample's gradient: no statistics shared across the batch.
    c = VideoCritic((4, 8, 8, 16), frames=8)
    c(tf.zeros([1, 8, 32, 32, 3]))
    kinds = {type(layer).__name__ for layer in c._flatten_layers()}
    assert "BatchNormalization" not in kinds and "LayerNormalization" in kinds
    x = tf.random.uniform([3, 8, 32, 32, 3])
    # Each sample's score is independent of the others in the batch.
    np.testing.assert_allclose(c(x)[:1], c(x[:1]), atol=1e-5)


@pytest.mark.parametrize(
    "form, convs, normed, activated",
    [
        # Sec. 3.1: five convolutions, LeakyReLU on all but the last; LayerNorm where WGAN-GP's
        # DCGAN critic [8] normalises (not the input layer).
        ("paper", [4, 8, 8, 16, 1], [1, 2, 3], [0, 1, 2, 3]),
        # The authors' iVGAN critic: LayerNorm on the first four, LeakyReLU on all five.
        ("ivgan", [4, 8, 8, 16, 1], [0, 1, 2, 3], [0, 1, 2, 3, 4]),
        # The earlier form, kept as a switch.
        ("four_conv", [4, 8, 8, 16], [1, 2, 3], [0, 1, 2, 3]),
    ],
)
def test_video_critic_forms(form, convs, normed, activated):
    c = VideoCritic((4, 8, 8, 16), frames=8, form=form)
    c.build((None, 8, 32, 32, 3))
    assert [conv.filters for conv in c.convs] == convs
    assert sorted(c.norms) == normed and list(c._activated()) == activated
    lines = c.describe((None, 8, 32, 32, 3))
    assert len(lines) == len(convs) + 1 and lines[-1].startswith("linear")
    assert ["LeakyReLU" in line for line in lines[:-1]] == [
        i in activated for i in range(len(convs))
    ]
    # The paper's last convolution is linear: its output reaches the Dense layer as it is.
    x = tf.random.uniform([2, 8, 32, 32, 3], -1, 1)
    feats = x
    for i, conv in enumerate(c.convs):
        feats = conv(feats)
        feats = c.norms[i](feats) if i in c.norms else feats
        if i in activated:
            feats = keras.activations.leaky_relu(feats, negative_slope=0.2)
    np.testing.assert_allclose(c.linear(c.flatten(feats)), c(x), rtol=1e-5, atol=1e-6)


def test_video_critic_form_from_config_and_bad_value_named():
    from idcg_tf.errors import ConfigError

    for form, count in (("paper", 5), ("four_conv", 4)):
        m = config.from_dict({"task": {"model": {"video_critic_form": form}}}).task.model
        assert len(build_networks(m).video_critic.convs) == count
    assert config.from_dict({}).task.model.video_critic_form == "paper"
    with pytest.raises(ConfigError, match="task.model.video_critic_form: expected one of paper"):
        config.from_dict({"task": {"model": {"video_critic_form": "five"}}})


def test_four_conv_form_keeps_the_earlier_variable_names():
    # Runs trained before the paper form restore with task.model.video_critic_form=four_conv:
    # checkpoints key variables by path (idcg_tf.runs).
    c = VideoCritic((4, 8, 8, 16), frames=8, form="four_conv")
    c.build((None, 8, 32, 32, 3))
    names = sorted({v.path.split("/")[1] for v in c.variables})
    assert names == ["conv0", "conv1", "conv2", "conv3", "linear", "ln1", "ln2", "ln3"]


def test_generation_networks_keep_their_variable_paths():
    # Generation runs checkpoint variables by path (idcg_tf.runs) and the optimizers' slots
    # by variable order: both must stay as trained runs wrote them.
    from idcg_tf.models.two_stream_generator import TwoStreamVideoGenerator
    from idcg_tf.models.video_discriminator import VideoDiscriminator
    from idcg_tf.models.video_generator import VideoGenerator

    def parts(net, shape):
        net.build(shape)
        return list(dict.fromkeys(v.path.split("/")[1] for v in net.variables))

    tiny = dict(frames=8, resolution=32, noise_dim=16, code_channels=64, decoder_widths=(32, 16, 8))
    assert parts(VideoGenerator(**tiny), (None, 16)) == ["projection", "video_decoder"]
    assert parts(TwoStreamVideoGenerator(**tiny), (None, 16)) == [
        "foreground_projection",
        "foreground",
        "background_projection",
        "background",
    ]
    d = VideoDiscriminator((4, 8, 8, 16), frames=8)
    assert parts(d, (None, 8, 32, 32, 3)) == [
        "conv0",
        "conv1",
        "conv2",
        "conv3",
        "bn1",
        "bn2",
        "bn3",
        "linear",
    ]
    # Its BatchNorm follows `training` (the critic's LayerNorm ignores it).
    x = tf.random.uniform([4, 8, 32, 32, 3], -1, 1)
    assert not np.allclose(d(x, training=True), d(x, training=False))
    assert "BatchNorm" in d.describe((None, 8, 32, 32, 3))[1]
