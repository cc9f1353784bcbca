"""What the config and the networks must agree on, without TensorFlow: the names of the model
options and the rule that decides which strided 3D layers also stride over time.

`idcg_tf.config` validates against these before TensorFlow loads (so config errors come fast);
`idcg_tf.layers` and `idcg_tf.models` build from them. Neither imports the other for them.
"""

from __future__ import annotations

CONV_IMPLS = ("auto", "stock", "custom")  # see idcg_tf.ops.conv_autotune
# The older per-rank names of "custom", still accepted (configs, saved layers, --compare-impl).
CONV_IMPL_ALIASES = {"taps": "custom", "matmul": "custom"}
VIDEO_CRITIC_FORMS = ("paper", "ivgan", "four_conv")  # see idcg_tf.models.critics


def time_strides(frames: int, num_strided: int) -> int:
    """How many of `num_strided` stride-2 3D layers also halve (or double) time for a clip of
    `frames` frames: as many as 2 divides `frames`, at most all (paper: 32 frames -> 4, so the
    latent code has 2 frames; 8 frames -> 3, latent 1 frame)."""
    k = 0
    while k < num_strided and frames % 2 == 0:
        frames //= 2
        k += 1
    return k
