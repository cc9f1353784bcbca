"""FusedAdam (TF's ResourceApplyAdam kernel) takes the same steps as Keras' Adam, with the
same slot variables, eagerly and inside a tf.function under a MirroredStrategy."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from idcg_tf.training.adam import FusedAdam


def _run(make, steps=5, strategy=None):
    strategy = strategy or tf.distribute.get_strategy()
    rng = np.random.default_rng(0)
    with strategy.scope():
        variables = [
            keras.Variable(rng.normal(size=shape).astype("float32"), name=f"w{i}")
            for i, shape in enumerate([(3, 4), (7,), (2, 2, 2, 5)])
        ]
        opt = make()
        opt.build(variables)
    grads = [
        [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables]
        for _ in range(steps)
    ]

    @tf.function
    def step(g):
        def replica_step():  # as the trainer's steps: gradients of a loss inside the replica
            with tf.GradientTape() as tape:
                loss = tf.add_n([tf.reduce_sum(v * d) for v, d in zip(variables, g)])
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))

        strategy.run(replica_step)

    for g in grads:
        step(g)
    return [v.numpy() for v in variables], opt


def _adam(cls):
    schedule = keras.optimizers.schedules.PolynomialDecay(1e-2, 10, 1e-3)
    return lambda: cls(schedule, beta_1=0.5, beta_2=0.9)


def test_fused_adam_takes_keras_adams_steps():
    want, keras_opt = _run(_adam(keras.optimizers.Adam))
    got, fused_opt = _run(_adam(FusedAdam))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

    # Same slots (names and values): checkpoints move between the two.
    def names(opt):  # without the optimizer's own name (the trainer names both)
        return [v.path.split("/", 1)[1] for v in opt.variables]

    assert names(fused_opt) == names(keras_opt)
    for a, b in zip(fused_opt.variables, keras_opt.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_fused_adam_under_a_mirrored_strategy():
    strategy = tf.distribute.MirroredStrategy(["/CPU:0"])
    want, _ = _run(_adam(keras.optimizers.Adam), strategy=strategy)
    got, _ = _run(_adam(FusedAdam), strategy=strategy)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
