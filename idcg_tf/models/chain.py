"""Models that run their sublayers one into the next: the translators (encoder, decoder) and
the one-stream generator (noise projection, decoder), which paper Sec. 4.2 makes the
image-to-video translator with its encoder replaced."""

from __future__ import annotations

import keras


def build_chain(layers, input_shape) -> None:
    shape = tuple(input_shape)
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)


def run_chain(layers, x, training=False):
    for layer in layers:
        x = layer(x, training=training)
    return x


class Chain(keras.Model):
    """Base: `_chain()` returns the sublayers in order; building, calling and the output shape
    follow from it."""

    def _chain(self) -> tuple:
        raise NotImplementedError

    def build(self, input_shape):
        build_chain(self._chain(), input_shape)

    def call(self, inputs, training=False):
        return run_chain(self._chain(), inputs, training)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._chain():
            shape = layer.compute_output_shape(shape)
        return shape


class Steps(keras.layers.Layer):
    """Base of the encoders and decoders: `steps()` lists what `call` runs, as (name, function)
    pairs, each function applied to the output of the one before (`idcg-benchmark layers`
    times them one by one)."""

    def steps(self, training=False) -> list:
        raise NotImplementedError

    @staticmethod
    def conv_norm_relu(conv, norm, training) -> tuple:
        """The step of `conv`, then `norm` (in `training` mode or not), then ReLU, named after
        both layers."""

        def step(x):
            return keras.activations.relu(norm(conv(x), training=training))

        return f"{conv.name}+{norm.name}+relu", step

    def call(self, inputs, training=False):
        x = inputs
        for _, step in self.steps(training):
            x = step(x)
        return x
