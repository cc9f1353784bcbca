"""Custom TensorFlow ops: computations written out in other ops where TF's own kernels are
slow on some device."""

from idcg_tf.ops.conv3d_matmul import conv3d_same, conv3d_transpose_same, same_padding
from idcg_tf.ops.conv3d_taps import conv3d_taps, conv3d_transpose_taps

__all__ = ["conv3d_same", "conv3d_transpose_same", "conv3d_taps", "conv3d_transpose_taps",
           "same_padding"]
