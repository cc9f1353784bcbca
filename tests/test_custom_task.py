"""A third task needs no change to the loop: a minimal WGAN on images, declared as a `Task`,
trains for two steps through `experiment.train` (checkpoints, metrics, console included)."""

import json

import keras
import tensorflow as tf

from idcg_tf import experiment
from idcg_tf.training.task import Task


class TinyImageGAN(Task):
    """Noise -> 32x32 image against a linear critic, on data.train_images."""

    critic_metrics = ("critic/loss",)
    generator_reads_data = False
    STREAMS = (("images", 0),)

    def build_networks(self):
        self.nets = {
            "generator": keras.Sequential([keras.Input((8,)), keras.layers.Dense(32 * 32 * 3)]),
            "critic": keras.Sequential(
                [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(1)]
            ),
        }

    generator_variables = property(lambda self: self.nets["generator"].trainable_variables)
    critic_variables = property(lambda self: self.nets["critic"].trainable_variables)

    def checkpoint_items(self):
        return {k: tf.train.Checkpoint(weights=net.weights) for k, net in self.nets.items()}

    def _fake(self, update):
        noise = update.draw(lambda key: tf.random.stateless_normal([8, update.global_batch], key))
        return tf.reshape(self.nets["generator"](tf.transpose(noise)), [-1, 32, 32, 3])

    def critic_step(self, update, batch):  # batch: this replica's images (one stream)
        with tf.GradientTape() as tape:
            scores = self.nets["critic"](self._fake(update)) - self.nets["critic"](batch)
            loss = update.mean(scores)
            update.minimize(tape, loss)
        return {"critic/loss": loss}

    def generator_step(self, update, batch=None):
        with tf.GradientTape() as tape:
            loss = update.mean(-self.nets["critic"](self._fake(update)))
            update.minimize(tape, loss)
        return {"generator/loss": loss}

    def sample_inputs(self, count=4):
        return None

    def sample_sheet(self, inputs):
        raise NotImplementedError

    def describe(self):
        return "TinyImageGAN"


def test_a_new_task_trains_through_the_unchanged_loop(tiny_cfg, tmp_path, capsys):
    cfg = tiny_cfg("trainer.steps=2", "trainer.log_every=1", "trainer.n_critic=2")
    metrics = experiment.train(cfg, tmp_path, task=TinyImageGAN(cfg))
    assert set(metrics) == {"critic/loss", "generator/loss"}
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert (tmp_path / "checkpoints" / "checkpoint").is_file()
    out = capsys.readouterr().out
    assert "step 2/2 | critic " in out and "done: step 2" in out
