"""Helper for test_distributed.py (a subprocess: logical devices must be set before TF starts).

Trains the tiny config for 2 iterations on 1 CPU device and on 2 logical CPU devices with the
same global batch, in float64 with SGD, and prints the largest update and metric differences as
JSON.

The two runs add the same numbers in a different order (gradients all-reduced over replicas,
BatchNorm statistics synchronised), so they differ by rounding. In float32 that rounding depends
on the CPU's kernels (oneDNN or Eigen) and reached 2e-3 of the update on an AVX2 machine; in
float64 it is ~1e-16 relative per operation, far below any error of the replica logic (a batch
averaged per replica instead of globally, unsynchronised BatchNorm statistics, a per-replica
random draw), each of which changes the update by a large fraction of itself.
SGD, not Adam: an update proportional to the gradient compares the gradients themselves. Adam's
first step is about lr * g / (|g| + 1e-7), which turns rounding noise in gradients that are zero
in theory (a conv bias before BatchNorm) into updates far larger than the noise.
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
keras.config.set_floatx("float64")  # before any network is built

from idcg_tf import config  # noqa: E402
from idcg_tf.experiment import make_trainer  # noqa: E402

cfg = config.from_dict(json.loads(sys.argv[1]))
workdir = sys.argv[2]
runs = {}
for name, devices in (("one", ["/cpu:0"]), ("two", ["/cpu:0", "/cpu:1"])):
    strategy = tf.distribute.MirroredStrategy(devices)
    trainer = make_trainer(cfg, f"{workdir}/{name}", strategy=strategy, log=lambda line: None)
    with strategy.scope():
        trainer.generator_optimizer = keras.optimizers.SGD(1e-4)
        trainer.critic_optimizer = keras.optimizers.SGD(1e-4)
        trainer.generator_optimizer.build(trainer.generator_variables)
        trainer.critic_optimizer.build(trainer.critic_variables)
    variables = [v for n in trainer.nets.generators + trainer.nets.critics for v in n.weights]
    initial = [v.numpy().copy() for v in variables]
    metrics = trainer.train(samples=())
    runs[name] = dict(
        initial=initial,
        weights=[v.numpy() for v in variables],
        metrics=metrics,
        names=[v.path for v in variables],
        dtypes={v.dtype for v in variables},
        replicas=strategy.num_replicas_in_sync,
    )


one, two = runs["one"], runs["two"]
updates_one = [w - i for w, i in zip(one["weights"], one["initial"])]
updates_two = [w - i for w, i in zip(two["weights"], two["initial"])]
moved = max(float(np.max(np.abs(u))) for u in updates_one)
update_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(updates_one, updates_two))
initial_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one["initial"], two["initial"]))
print(
    json.dumps(
        {
            "replicas": [one["replicas"], two["replicas"]],
            "dtypes": sorted(str(d) for d in one["dtypes"] | two["dtypes"]),
            "initial_diff": initial_diff,
            "update_diff": update_diff / moved,  # relative to the largest update
            "weights_moved": moved,
            "bn_moving_means": len([n for n in one["names"] if "moving_mean" in n]),
            "metric_diff": max(
                abs(one["metrics"][k] - two["metrics"][k]) / (abs(one["metrics"][k]) + 1e-6)
                for k in one["metrics"]
            ),
        }
    )
)
