"""Helper for test_distributed.py (a subprocess: logical devices must be set before TF starts).

Trains the tiny config for 2 iterations on 1 CPU device and on 2 logical CPU devices with the
same global batch, and prints the largest update and metric differences as JSON.

The optimizers are swapped for SGD here: Adam's first step is about lr * sign(gradient), so
gradients that are zero in theory (a conv bias before BatchNorm) turn float noise into full
steps; SGD makes the update proportional to the gradient the distributed step computed.
"""

import json
import sys

import keras
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from idcg_tf import config  # noqa: E402
from idcg_tf.training import Trainer  # noqa: E402

cfg = config.from_dict(json.loads(sys.argv[1]))
workdir = sys.argv[2]
runs = {}
for name, devices in (("one", ["/cpu:0"]), ("two", ["/cpu:0", "/cpu:1"])):
    strategy = tf.distribute.MirroredStrategy(devices)
    trainer = Trainer(cfg, f"{workdir}/{name}", strategy=strategy, log=lambda line: None)
    with strategy.scope():
        trainer.generator_optimizer = keras.optimizers.SGD(1e-4)
        trainer.critic_optimizer = keras.optimizers.SGD(1e-4)
        trainer.generator_optimizer.build(trainer.generator_variables)
        trainer.critic_optimizer.build(trainer.critic_variables)
    initial = [v.numpy().copy() for n in trainer.nets.generators + trainer.nets.critics
               for v in n.weights]
    metrics = trainer.train(samples=())
    weights = [v.numpy() for n in trainer.nets.generators + trainer.nets.critics
               for v in n.weights]
    names = [v.path for n in trainer.nets.generators + trainer.nets.critics for v in n.weights]
    runs[name] = dict(initial=initial, weights=weights, metrics=metrics, names=names,
                      replicas=strategy.num_replicas_in_sync)


one, two = runs["one"], runs["two"]
moved = max(float(np.max(np.abs(w - i))) for w, i in zip(one["weights"], one["initial"]))
update_diff = max(float(np.max(np.abs((w1 - i1) - (w2 - i2))))
                  for w1, i1, w2, i2 in zip(one["weights"], one["initial"], two["weights"],
                                            two["initial"]))
initial_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one["initial"], two["initial"]))
bn_means = [n for n in one["names"] if "moving_mean" in n]
print(json.dumps({
    "replicas": [one["replicas"], two["replicas"]],
    "initial_diff": initial_diff,
    "update_diff": update_diff / moved,  # relative to the largest update
    "weights_moved": moved,
    "bn_moving_means": len(bn_means),
    "metric_diff": max(abs(one["metrics"][k] - two["metrics"][k]) / (abs(one["metrics"][k]) + 1e-6)
                       for k in one["metrics"]),
}))
