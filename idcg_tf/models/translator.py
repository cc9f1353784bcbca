"""What the two translators share: an encoder into a decoder, and their common arguments."""

from __future__ import annotations

import keras


class Translator(keras.Model):
    """Base of `ImageToVideo` (G_Y) and `VideoToImage` (G_X): subclasses set `self.encoder`
    and `self.decoder` in `__init__`; building, calling and the config are the same."""

    def __init__(self, frames, encoder_widths, decoder_widths, channels=3, residual_blocks=3,
                 kernel_size=4, impl="auto", **kwargs):
        super().__init__(**kwargs)
        self.frames = frames
        self.encoder_widths = tuple(encoder_widths)
        self.decoder_widths = tuple(decoder_widths)
        self.channels = channels
        self.residual_blocks = residual_blocks
        self.kernel_size = kernel_size
        self.impl = impl

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.decoder.build(self.encoder.compute_output_shape(input_shape))

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return self.decoder.compute_output_shape(self.encoder.compute_output_shape(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update(frames=self.frames, encoder_widths=list(self.encoder_widths),
                      decoder_widths=list(self.decoder_widths), channels=self.channels,
                      residual_blocks=self.residual_blocks, kernel_size=self.kernel_size,
                      impl=self.impl)
        return config
