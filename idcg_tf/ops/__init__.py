"""Custom TensorFlow ops: computations written out in other ops where TF's own kernels are
slow on some device."""

from idcg_tf.ops.conv3d_taps import conv3d_taps, conv3d_transpose_taps, same_padding

__all__ = ["conv3d_taps", "conv3d_transpose_taps", "same_padding"]
