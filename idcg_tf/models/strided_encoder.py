"""What the image and video encoders share: stride-2 convolution stages with BatchNorm + ReLU
and residual blocks before the last two."""

from __future__ import annotations

import functools

from idcg_tf.layers import BatchNorm, ResidualBlock
from idcg_tf.models.chain import Steps


class StridedEncoder(Steps):
    """Base of `ImageEncoder` and `VideoEncoder`: `_make_stages` builds the stages from a
    convolution factory, `steps` lists what `call` runs."""

    def __init__(self, widths, residual_blocks=3, kernel_size=4, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.residual_blocks = residual_blocks
        self.kernel_size = kernel_size

    def _make_stages(self, rank, make_conv, impl="auto"):
        n = len(self.widths)
        self.stages = []
        for i, width in enumerate(self.widths):
            stage = []
            if i >= n - 2:  # paper Sec. 3.1: residual blocks before the 3rd and 4th conv
                stage += [
                    ResidualBlock(rank=rank, impl=impl, dtype=self.dtype_policy, name=f"res{i}_{j}")
                    for j in range(self.residual_blocks)
                ]
            stage += [
                make_conv(i, width),
                BatchNorm(synchronized=True, dtype=self.dtype_policy, name=f"bn{i}"),
            ]
            self.stages.append(stage)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for stage in self.stages:
            for layer in stage:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def steps(self, training=False) -> list:
        """Per stage: its residual blocks, then its convolution + BatchNorm + ReLU."""
        steps = []
        for stage in self.stages:
            steps += [
                (layer.name, functools.partial(layer, training=training)) for layer in stage[:-2]
            ]
            steps.append(self.conv_norm_relu(*stage[-2:], training))
        return steps

    def get_config(self):
        config = super().get_config()
        config.update(
            widths=list(self.widths),
            residual_blocks=self.residual_blocks,
            kernel_size=self.kernel_size,
        )
        return config
