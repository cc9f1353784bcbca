"""WGAN-GP critics for images (C_X) and videos (C_Y): paper Fig. 2c/2d, Sec. 3.1.

The video critic has three forms (`task.model.video_critic_form`, see docs/fidelity.md):

- "paper" (default): five 3D convolutions, then a linear layer (Sec. 3.1: "five convolutional
  layers ... followed by an additional linear layer"). LayerNorm after the 2nd-4th, as WGAN-GP's
  DCGAN critic [8] normalises where DCGAN would batch-normalise (never its input layer);
  LeakyReLU(0.2) after all but the last ("all but the last convolutional layers use a leaky
  ReLU"). The fifth convolution maps to one channel with stride 2, as the authors' iVGAN critic.
- "ivgan": the authors' related iVGAN code (Kratzwald et al. 2017, `dis_block`): LayerNorm
  after the 1st-4th convolutions and LeakyReLU after all five.
- "four_conv": this project's earlier form, four convolutions (LayerNorm after the 2nd-4th, all
  with LeakyReLU) and the linear layer; kept so that runs trained with it still load.
"""

from __future__ import annotations

import keras

from idcg_tf.architecture import VIDEO_CRITIC_FORMS, time_strides
from idcg_tf.layers import ImageConv, VideoConv
from idcg_tf.ops.leaky_relu import leaky_relu


class _Critic(keras.Model):
    """Strided convolutions, LayerNorm + LeakyReLU(0.2), flatten, Dense(1). WGAN-GP forbids
    BatchNorm: LayerNorm keeps each sample's gradient its own."""

    rank = 2
    norm_name = "LayerNorm"  # what `describe` calls the norm `_norm` makes

    def __init__(self, widths, kernel_size=4, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.kernel_size = kernel_size
        self.convs = [self._conv(w, i) for i, w in enumerate(self._conv_widths())]
        self.norms = {i: self._norm(i) for i in self._normalized()}
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy)
        self.linear = keras.layers.Dense(1, dtype=self.dtype_policy, name="linear")

    # What the forms differ in; the image critic is WGAN-GP's DCGAN critic [8].
    def _norm(self, i):
        # Over every feature of a sample (all axes but the batch).
        return keras.layers.LayerNormalization(
            axis=list(range(1, self.rank + 2)), dtype=self.dtype_policy, name=f"ln{i}"
        )

    def _conv_widths(self) -> tuple:
        return self.widths

    def _normalized(self) -> tuple:
        """Indices of the convolutions followed by a norm."""
        return tuple(range(1, len(self.widths)))

    def _activated(self) -> tuple:
        """Indices of the convolutions followed by LeakyReLU."""
        return tuple(range(len(self.convs)))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i in self.norms:
                self.norms[i].build(shape)
        self.linear.build(self.flatten.compute_output_shape(shape))

    def call(self, inputs, training=False):
        x = inputs
        activated = self._activated()
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i in self.norms:
                x = self.norms[i](x, training=training)
            if i in activated:
                x = leaky_relu(x, negative_slope=0.2)
        return self.linear(self.flatten(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def describe(self, input_shape) -> list[str]:
        """One line per layer (what --dry-run prints): kernel, width, strides, output shape,
        norm and activation."""
        lines, shape = [], tuple(input_shape)
        activated = self._activated()
        for i, conv in enumerate(self.convs):
            shape = conv.compute_output_shape(shape)
            strides = "x".join(str(s) for s in self._strides(i))
            kernel = "x".join([str(self.kernel_size)] * self.rank)
            extras = ([self.norm_name] if i in self.norms else []) + (
                ["LeakyReLU(0.2)"] if i in activated else []
            )
            width = f"{shape[-1]} channel" + ("s" if shape[-1] > 1 else "")
            lines.append(
                f"conv{i + 1} {self.rank}D {kernel}, {width}, stride {strides} -> "
                f"{tuple(shape[1:])}" + (" + " + " + ".join(extras) if extras else "")
            )
        features = self.flatten.compute_output_shape(shape)[-1]
        lines.append(f"linear {features} -> 1")
        return lines

    def get_config(self):
        config = super().get_config()
        config.update(widths=list(self.widths), kernel_size=self.kernel_size)
        return config


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageCritic(_Critic):
    """C_X: (N, r, r, 3) -> (N, 1) unbounded score.

    Four stride-2 convolutions and a linear layer: WGAN-GP's DCGAN critic [8], and WGAN's [2]
    (whose fifth, 4x4 valid convolution to one channel is a linear layer over the 4x4 map).

    Args:
        widths: widths of the stride-2 Conv2D layers, e.g. (128, 256, 512, 1024).
        kernel_size: kernel of the convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
    """

    rank = 2

    def __init__(self, widths, kernel_size=4, impl="auto", **kwargs):
        self.impl = impl
        super().__init__(widths, kernel_size, **kwargs)

    def _conv(self, width, i):
        return ImageConv(
            width,
            self.kernel_size,
            strides=2,
            padding="same",
            impl=self.impl,
            dtype=self.dtype_policy,
            name=f"conv{i}",
        )

    def _strides(self, i):
        return (2, 2)

    def get_config(self):
        return {**super().get_config(), "impl": self.impl}


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoCritic(_Critic):
    """C_Y: (N, l, r, r, 3) -> (N, 1) unbounded score, spatio-temporal convolutions.

    Args:
        widths: widths of the first four stride-2 Conv3D layers, e.g. (64, 128, 256, 512); the
            "paper" and "ivgan" forms add a fifth to one channel.
        frames: l; the first layers also stride over time while it divides.
        kernel_size: kernel of the convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
        form: "paper", "ivgan" or "four_conv" (see the module docstring).
    """

    rank = 3

    def __init__(self, widths, frames=32, kernel_size=4, impl="auto", form="paper", **kwargs):
        if form not in VIDEO_CRITIC_FORMS:
            raise ValueError(f"form must be one of {VIDEO_CRITIC_FORMS}, got {form!r}")
        self.frames = frames
        self.impl = impl
        self.form = form
        count = len(widths) + (form != "four_conv")
        self.time_strides = time_strides(frames, count)
        super().__init__(widths, kernel_size, **kwargs)

    def _conv_widths(self):
        return self.widths if self.form == "four_conv" else self.widths + (1,)

    def _normalized(self):
        if self.form == "ivgan":
            return tuple(range(len(self.widths)))
        return tuple(range(1, len(self.widths)))

    def _activated(self):
        last = len(self._conv_widths()) - 1
        if self.form == "paper":
            return tuple(range(last))
        return tuple(range(last + 1))

    def _strides(self, i):
        return (2 if i < self.time_strides else 1, 2, 2)

    def _conv(self, width, i):
        return VideoConv(
            width,
            self.kernel_size,
            self._strides(i),
            impl=self.impl,
            dtype=self.dtype_policy,
            name=f"conv{i}",
        )

    def get_config(self):
        config = super().get_config()
        config.update(frames=self.frames, impl=self.impl, form=self.form)
        return config
