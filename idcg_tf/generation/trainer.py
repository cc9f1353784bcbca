"""The video generation training loop (paper Sec. 4.2): noise -> clip against a video adversary.

`wgan_one_stream` (ours): WGAN-GP with `VideoCritic`, as the translation models.
`videogan_one_stream` / `videogan_two_stream`: the original GAN loss (non-saturating) with
VideoGAN's BatchNorm discriminator; two-stream adds the mask's L1 penalty.

One iteration = `train.n_critic` adversary updates, each on a fresh batch of real clips, then
one generator update (which needs no data); VideoGAN's configs set n_critic to 1.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from idcg_tf import losses
from idcg_tf.config import Config
from idcg_tf.data import reader
from idcg_tf.errors import UserError
from idcg_tf.generation import (build_generation_networks, checkpoint_variables,
                                generation_sheet, sample_noise)
from idcg_tf.generation import losses as gan_losses
from idcg_tf.runs import newest_intact_checkpoint
from idcg_tf.training.trainer import Trainer
from idcg_tf.visualize import save_png

WGAN_CRITIC_METRICS = ("critic/loss", "critic/wasserstein_video", "critic/gradient_penalty_video")
GAN_CRITIC_METRICS = ("critic/loss", "critic/real_probability", "critic/fake_probability")

# Independent random streams under one (seed, counter) key.
_CRITIC_NOISE, _GENERATOR_NOISE, _PENALTY_EPS = 0, 1, 2


def clip_datasets(strategy: tf.distribute.Strategy, data_cfg, model_cfg, global_batch: int,
                  seed: int, start_step: int = 0, batches_per_step: int = 1):
    """The distributed dataset of training clips, positioned after `start_step` steps of
    `batches_per_step` global batches (exact resume, as `reader.training_datasets`)."""

    def dataset_fn(ctx: tf.distribute.InputContext):
        per_replica = ctx.get_per_replica_batch_size(global_batch)
        per_pipeline_step = per_replica * ctx.num_replicas_in_sync // ctx.num_input_pipelines
        return reader.make_dataset(
            data_cfg.train_clips, "clips", resolution=model_cfg.resolution,
            frames=model_cfg.frames, batch_size=per_replica,
            shuffle_buffer=data_cfg.shuffle_buffer, seed=seed, flip=data_cfg.flip,
            cycle_length=data_cfg.cycle_length, on_corrupt=data_cfg.on_corrupt,
            start=start_step * batches_per_step * per_pipeline_step, input_context=ctx,
            key="data.train_clips")

    return strategy.distribute_datasets_from_function(dataset_fn)


class GenerationTrainer(Trainer):
    """Trains a `generation.model` run; the run loop, console and TensorBoard logging,
    checkpoints every `checkpoint_every` steps, divergence stop and exact resume are the
    translation `Trainer`'s. The run directory has the same layout; samples/ holds Fig. 3
    sheets of clips from fixed noise.

    Args:
        cfg: the resolved run configuration, `cfg.generation.model` set.
        workdir: run directory; one holding a checkpoint is resumed.
        strategy: a tf.distribute strategy; default from `cfg.train.strategy`.
        log: where progress lines go.
    """

    def __init__(self, cfg: Config, workdir: str | os.PathLike, strategy=None, log=None):
        if not cfg.generation.model:
            raise UserError("generation.model: empty; use idcg_tf.training.Trainer for "
                            "translation runs")
        self.wgan = cfg.generation.model == "wgan_one_stream"
        super().__init__(cfg, workdir, strategy, log=log)

    def _build_networks(self):
        return build_generation_networks(self.cfg)

    def _default_identity_loss(self):
        return None

    @property
    def generator_variables(self):
        return self.nets.generator.trainable_variables

    @property
    def critic_variables(self):
        return self.nets.critic.trainable_variables

    # ------------------------------------------------------------------ the steps
    def _draw(self, counter: tf.Variable, stream: int, shape_fn, batch):
        """This replica's slice of a per-global-sample stateless draw keyed by (seed, counter,
        stream): the same on resume and for any replica count."""
        seed = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.constant(self.cfg.train.seed, tf.int64),
                      tf.cast(counter.value, tf.int64)]), stream)
        return self._replica_slice(shape_fn(seed), batch)

    def _noise(self, counter, stream, batch):
        dim = self.cfg.generation.noise_dim
        z = self._draw(counter, stream,
                       lambda s: tf.random.stateless_normal([dim, self.global_batch], seed=s),
                       batch)
        return tf.transpose(z)

    def critic_step(self, clips: tf.Tensor) -> dict:
        """One update of the adversary on one replica's batch of real clips."""
        g, c = self.nets.generator, self.nets.critic
        batch = tf.shape(clips)[0]
        counter = self.critic_optimizer.iterations
        fake = tf.stop_gradient(g(self._noise(counter, _CRITIC_NOISE, batch), training=True))

        def avg(x):
            return tf.nn.compute_average_loss(tf.reshape(x, [-1]),
                                              global_batch_size=self.global_batch)

        with tf.GradientTape() as tape:
            real_scores, fake_scores = c(clips, training=True), c(fake, training=True)
            if self.wgan:
                eps = self._draw(counter, _PENALTY_EPS,
                                 lambda s: tf.random.stateless_uniform([self.global_batch],
                                                                       seed=s), batch)
                penalty = losses.gradient_penalty(c, clips, fake, eps)
                per_sample = (losses.wasserstein_critic_loss(real_scores, fake_scores)
                              + self.cfg.loss.gradient_penalty * penalty)
            else:
                per_sample = gan_losses.gan_critic_loss(real_scores, fake_scores)
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=self.global_batch)
        grads = tape.gradient(loss, self.critic_variables)
        self.critic_optimizer.apply_gradients(zip(grads, self.critic_variables))
        if self.wgan:
            return {"critic/loss": loss,
                    "critic/wasserstein_video": avg(real_scores - fake_scores),
                    "critic/gradient_penalty_video": avg(penalty)}
        return {"critic/loss": loss,
                "critic/real_probability": avg(tf.sigmoid(real_scores)),
                "critic/fake_probability": avg(tf.sigmoid(fake_scores))}

    def generator_step(self) -> dict:
        """One generator update on one replica's share of the global batch of noise."""
        g, c = self.nets.generator, self.nets.critic
        batch = self.global_batch // self.strategy.num_replicas_in_sync
        z = self._noise(self.generator_optimizer.iterations, _GENERATOR_NOISE, batch)
        with tf.GradientTape() as tape:
            if self.nets.two_stream:
                parts = g.streams(z, training=True)
                fake = parts["video"]
            else:
                fake = g(z, training=True)
            scores = c(fake, training=True)
            if self.wgan:
                terms = {"adversarial_video": losses.wasserstein_generator_loss(scores)}
            else:
                terms = {"adversarial_video": gan_losses.gan_generator_loss(scores)}
            if self.nets.two_stream:
                terms["mask_sparsity"] = (self.cfg.generation.mask_sparsity
                                          * gan_losses.mask_sparsity_loss(parts["mask"]))
            return self._update_generators(tape, terms)

    def make_iteration_fn(self):
        n_critic = self.cfg.train.n_critic
        keys = WGAN_CRITIC_METRICS if self.wgan else GAN_CRITIC_METRICS

        @tf.function
        def iteration(iterator):
            critic = {k: tf.constant(0.0) for k in keys}
            for _ in tf.range(n_critic):
                clips = next(iterator)
                step_metrics = self._reduce(self.strategy.run(self.critic_step, (clips,)))
                critic = {k: critic[k] + step_metrics[k] / n_critic for k in critic}
            gen = self._reduce(self.strategy.run(self.generator_step))
            self.step.assign_add(1)
            return {**critic, **gen}

        return iteration

    # ------------------------------------------------------------------ the run
    def _check_workdir(self):
        super()._check_workdir()
        saved = self.workdir / "config.yaml"
        if saved.is_file():
            import yaml

            old = (yaml.safe_load(saved.read_text()) or {}).get("generation") or {}
            new = json.loads(json.dumps(self.cfg.to_dict()))["generation"]
            for key in ("model", "noise_dim"):
                if old.get(key, "") != new[key]:
                    raise UserError(f"{self.workdir}: generation.{key} differs from the run's "
                                    f"saved config.yaml ({old.get(key)!r} vs {new[key]!r}); "
                                    "use a new --workdir")

    def setup(self, dataset=None):
        """Restores the latest checkpoint (if any), then positions the input pipeline there."""
        self.checkpoint = tf.train.Checkpoint(
            step=self.step, generator=checkpoint_variables(self.nets.generator),
            critic=checkpoint_variables(self.nets.critic),
            generator_optimizer=self.generator_optimizer, critic_optimizer=self.critic_optimizer)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self._checkpoint_dir()),
            max_to_keep=self.cfg.train.keep_checkpoints)
        latest = newest_intact_checkpoint(self._checkpoint_dir(),
                                          warn=lambda line: self.log(f"warning: {line}"))
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self.log(f"resumed from {latest} (step {self.current_step})")
        if dataset is None:
            # The generator step reads no data: n_critic batches per iteration.
            dataset = clip_datasets(self.strategy, self.cfg.data, self.cfg.model,
                                    self.global_batch, self.cfg.train.seed,
                                    start_step=self.current_step,
                                    batches_per_step=self.cfg.train.n_critic)
        self.iterator = iter(dataset)
        self._iteration_fn = self.make_iteration_fn()

    def _sample_inputs(self, count: int = 4):
        """Fixed noise for the sample sheets (a tuple: the loop tests it for truth)."""
        if not self.chief:
            return None
        return (sample_noise(count, self.cfg.generation.noise_dim, self.cfg.train.seed),)

    def generate(self, z) -> np.ndarray:
        """Inference-mode clips for noise `z` (numpy in, numpy out)."""
        return np.asarray(self.nets.generator(z, training=False))

    def translate(self, images, clips):
        raise UserError("a generation run translates nothing; use generate(z)")

    def _write_samples(self, writer, step, samples):
        (z,) = samples
        sheet = generation_sheet(self.generate(z))
        save_png(self.workdir / "samples" / f"step_{step:07d}.png", sheet)
        with writer.as_default(step=step):
            tf.summary.image("samples/generated", sheet[np.newaxis])

    def _log_identity_score(self, writer, step):
        """No translation identity curve: a generation run has no inputs to keep the identity
        of (its own metrics: `tools/evaluate.py --generation`)."""
