"""GPU speed switches, checked on the CPU: trainer.mixed_precision keeps the gradient penalty
(a second derivative through the critic) float32-accurate, and trainer.jit_compile trains."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_GENERATION
from idcg_tf import losses
from idcg_tf.experiment import make_trainer
from idcg_tf.models import VideoCritic
from idcg_tf.training.task import dtype_policy

# Relative error ||mixed - float32|| / ||float32|| of the penalty and of its gradient w.r.t.
# each critic weight, on the critic below. The bound is one rule for both policies, in units of
# the policy's unit roundoff u (float16: 11 significant bits, u = 2^-11; bfloat16: 8, u = 2^-8):
# rounding grows about linearly with the depth of the computation, and the penalty's double
# backward runs ~3 passes through the critic's 6 layers (18 stages), plus a few LeakyReLU signs
# that flip; 32 u leaves room for that on any CPU's kernels. Measured (fixed seed): float16
# 1.0e-3 with oneDNN on, 2.5e-3 with it off (AVX-512 kind); bfloat16 2e-2 to 7e-2. Without loss
# scaling float16 gradients underflow and the error is of order 1, far above the bound.
ROUNDOFF = {"mixed_float16": 2.0**-11, "mixed_bfloat16": 2.0**-8}
TOLERANCE = {policy: 32 * u for policy, u in ROUNDOFF.items()}


def _rel(got, want) -> float:
    got, want = np.asarray(tf.cast(got, tf.float32)), np.asarray(want)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-12))


def _penalty_and_grads(critic, real, fake, eps, scale):
    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(critic, real, fake, eps, scale)
        total = tf.reduce_sum(gp) * scale
    grads = tape.gradient(total, critic.trainable_variables)
    # None: a weight the input gradient does not depend on (the output bias).
    return gp, [None if g is None else g / scale for g in grads]


@pytest.mark.parametrize("policy", sorted(TOLERANCE))
def test_gradient_penalty_under_mixed_policy_matches_float32(policy):
    keras.utils.set_random_seed(0)
    shape = (3, 4, 16, 16, 3)
    reference = VideoCritic((8, 16), frames=4, impl="stock")
    reference.build(shape)
    with dtype_policy(policy):
        mixed = VideoCritic((8, 16), frames=4, impl="stock")
    mixed.build(shape)
    assert mixed.compute_dtype != "float32"
    # Same float32 variables under both policies: copy them over.
    assert all(v.dtype == "float32" for v in mixed.weights)
    for src, dst in zip(reference.weights, mixed.weights):
        dst.assign(src)
    real = tf.random.stateless_uniform(shape, [1, 2], -1, 1)
    fake = tf.random.stateless_uniform(shape, [3, 4], -1, 1)
    eps = tf.random.stateless_uniform([shape[0]], [5, 6])
    want_gp, want_grads = _penalty_and_grads(reference, real, fake, eps, 1.0)
    # A loss scale the dynamic scaler settles at for this critic (2^15, its start, overflows
    # float16 here and is halved away in training).
    scale = 2.0**8 if policy == "mixed_float16" else 1.0
    got_gp, got_grads = _penalty_and_grads(mixed, real, fake, eps, scale)
    assert got_gp.dtype == tf.float32
    tol = TOLERANCE[policy]
    gp_err = _rel(got_gp, want_gp)
    assert gp_err < tol, f"penalty relative error {gp_err:.2e}"
    assert [g is None for g in got_grads] == [g is None for g in want_grads]
    for got, want in zip(got_grads, want_grads):
        if want is None:
            continue
        err = _rel(got, want)
        assert err < tol, f"weight gradient relative error {err:.2e}"


# bfloat16 takes the float16 path minus loss scaling: its numerics are pinned above.
@pytest.mark.parametrize(
    "policy,jit",
    [
        ("mixed_float16", False),
        # XLA compiles every step on the CPU (~70 s): make test-slow, which CI runs.
        pytest.param("none", True, marks=pytest.mark.slow),
    ],
)
def test_tiny_model_trains_mixed_or_with_xla(tiny_cfg, tmp_path, policy, jit):
    cfg = tiny_cfg(
        f"trainer.mixed_precision={policy}",
        f"trainer.jit_compile={jit}",
        "trainer.steps=2",
        "trainer.n_critic=1",
        "trainer.batch_size=1",
        "task.model.residual_blocks=0",
        "trainer.strategy=default",
    )
    trainer = make_trainer(cfg, tmp_path, log=lambda line: None)
    metrics = trainer.train(samples=())
    assert metrics and all(math.isfinite(v) for v in metrics.values())
    assert all(v.dtype == "float32" for v in trainer.nets.video_critic.weights)
    want = {"none": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}[policy]
    assert trainer.nets.image_to_video.compute_dtype == want
    scaled = isinstance(trainer.critic_optimizer, tf.keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")


def test_unknown_mixed_precision_policy_names_the_key(tiny_cfg):
    from idcg_tf.errors import ConfigError

    with pytest.raises(ConfigError, match="trainer.mixed_precision"):
        tiny_cfg("trainer.mixed_precision=float8")


@pytest.mark.slow  # ~18 s: the translation task trains mixed in make test; make test-slow (CI)
def test_generation_trains_mixed(tiny_cfg, tmp_path):
    # Precision is handled by the task base class, so generation gets it as translation does:
    # the two-stream generator (a method call, `streams`, besides the call) and the WGAN-GP
    # critic's penalty under loss scaling.
    for generator in ("videogan_two_stream", "wgan_one_stream"):
        cfg = tiny_cfg(
            "trainer.mixed_precision=mixed_float16",
            f"task.model.generator={generator}",
            "trainer.steps=2",
            "trainer.n_critic=1",
            "trainer.strategy=default",
            base=TINY_GENERATION,
        )
        trainer = make_trainer(cfg, tmp_path / generator, log=lambda line: None)
        metrics = trainer.train()
        assert metrics and all(math.isfinite(v) for v in metrics.values())
        assert trainer.nets.generator.compute_dtype == "float16"
        assert isinstance(trainer.critic_optimizer, tf.keras.optimizers.LossScaleOptimizer)
        assert trainer.task.generate(np.zeros([1, 100], np.float32)).dtype == np.float32


@pytest.mark.slow  # XLA compiles each step (~10 s); make test-slow (CI)
def test_generation_trains_with_xla(tiny_cfg, tmp_path):
    cfg = tiny_cfg(
        "trainer.jit_compile=true",
        "trainer.steps=2",
        "trainer.n_critic=1",
        "trainer.strategy=default",
        base=TINY_GENERATION,
    )
    metrics = make_trainer(cfg, tmp_path, log=lambda line: None).train(samples=())
    assert metrics and all(math.isfinite(v) for v in metrics.values())
