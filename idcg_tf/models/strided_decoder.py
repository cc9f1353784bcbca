"""What the image and video decoders share: fractionally strided convolutions with BatchNorm +
ReLU between them and tanh out."""

from __future__ import annotations

from keras import ops

from idcg_tf.models.chain import Steps


class StridedDecoder(Steps):
    """Base of `ImageDecoder` and `VideoDecoder`: subclasses create `self.convs` (one per
    output width) and `self.norms` (after all but the last), in the order their variables have
    always had; `_unfold_shape` is the shape of the first layer's input."""

    def __init__(self, widths, channels=3, kernel_size=4, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.channels = channels
        self.kernel_size = kernel_size

    def _unfold_shape(self, input_shape):
        return tuple(input_shape)

    def build(self, input_shape):
        shape = self._unfold_shape(input_shape)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i < len(self.norms):
                self.norms[i].build(shape)

    def steps(self, training=False) -> list:
        """Every transposed convolution with the BatchNorm + ReLU after it; the last with tanh."""
        steps = []
        for i, conv in enumerate(self.convs):
            if i < len(self.norms):
                steps.append(self.conv_norm_relu(conv, self.norms[i], training))
            else:
                steps.append((f"{conv.name}+tanh", lambda x, conv=conv: ops.tanh(conv(x))))
        return steps

    def get_config(self):
        config = super().get_config()
        config.update(
            widths=list(self.widths), channels=self.channels, kernel_size=self.kernel_size
        )
        return config
