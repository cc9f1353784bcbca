"""What the image and video decoders share: fractionally strided convolutions with BatchNorm +
ReLU between them and tanh out."""

from __future__ import annotations

import keras
from keras import ops


class StridedDecoder(keras.layers.Layer):
    """Base of `ImageDecoder` and `VideoDecoder`: subclasses create `self.convs` (one per
    output width) and `self.norms` (after all but the last), in the order their variables have
    always had; `_unfold` turns the latent code into the first layer's input."""

    def __init__(self, widths, channels=3, kernel_size=4, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.channels = channels
        self.kernel_size = kernel_size

    def _unfold(self, x):
        return x

    def _unfold_shape(self, input_shape):
        return tuple(input_shape)

    def build(self, input_shape):
        shape = self._unfold_shape(input_shape)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i < len(self.norms):
                self.norms[i].build(shape)

    def call(self, inputs, training=False):
        x = self._unfold(inputs)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.norms):
                x = keras.activations.relu(self.norms[i](x, training=training))
        return ops.tanh(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            widths=list(self.widths), channels=self.channels, kernel_size=self.kernel_size
        )
        return config
