"""The video generation task (paper Sec. 4.2): noise -> clip against a video adversary.

`wgan_one_stream` (ours): WGAN-GP with `VideoCritic`, as the translation models.
`videogan_one_stream` / `videogan_two_stream`: the original GAN loss (non-saturating) with
VideoGAN's BatchNorm discriminator; two-stream adds the mask's L1 penalty.

One iteration = `trainer.n_critic` adversary updates, each on a fresh batch of real clips, then
one generator update, which reads no data; VideoGAN's configs set n_critic to 1.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from idcg_tf import losses
from idcg_tf.generation.networks import build_generation_networks, code_shape
from idcg_tf.generation.sampling import sample_noise
from idcg_tf.training.task import Task, Update, checkpoint_variables, network_table
from idcg_tf.visualize import generation_sheet

# Independent random streams under one (seed, update count) key.
_CRITIC_NOISE, _GENERATOR_NOISE, _PENALTY_EPS = 0, 1, 2


class GenerationTask(Task):
    """Trains `task.model.generator`; samples/ holds Fig. 3 sheets of clips from fixed noise.

    The adversarial terms are chosen once from the config: WGAN-GP for wgan_one_stream, the
    GAN cross-entropy for the VideoGAN baselines (whose "critic" is the discriminator).
    """

    name = "generation"
    trained_with = "a gen_*.yaml config"
    generator_reads_data = False
    console_metrics = (
        ("critic/loss", "critic"),
        ("generator/loss", "gen"),
        ("critic/wasserstein_video", "W_vid"),
    )

    def __init__(self, cfg):
        super().__init__(cfg)
        self.wgan = cfg.task.model.generator == "wgan_one_stream"
        self.critic_metrics = (
            ("critic/loss", "critic/wasserstein_video", "critic/gradient_penalty_video")
            if self.wgan
            else ("critic/loss", "critic/real_probability", "critic/fake_probability")
        )

    def build_networks(self):
        self.nets = build_generation_networks(self.cfg)

    @property
    def generator_variables(self):
        return self.nets.generator.trainable_variables

    @property
    def critic_variables(self):
        return self.nets.critic.trainable_variables

    def checkpoint_items(self):
        return {
            "generator": checkpoint_variables(self.nets.generator),
            "critic": checkpoint_variables(self.nets.critic),
        }

    STREAMS = (("clips", 0),)

    # ------------------------------------------------------------------ the steps
    def _noise(self, update: Update, stream: int) -> tf.Tensor:
        dim = self.cfg.task.model.noise_dim
        return tf.transpose(
            update.draw(
                lambda key: tf.random.stateless_normal([dim, update.global_batch], seed=key), stream
            )
        )

    def critic_step(self, update: Update, batch) -> dict:
        """One update of the adversary on one replica's batch of real clips."""
        g, c = self.float32_networks(self.nets.generator, self.nets.critic)
        clips = self.network_inputs(batch)
        fake = tf.stop_gradient(g(self._noise(update, _CRITIC_NOISE), training=True))
        with tf.GradientTape() as tape:
            if self.wgan:  # VideoCritic scores each sample on its own: one call on both
                real_scores, fake_scores = losses.scores_of_both(c, clips, fake)
                eps = update.draw(
                    lambda key: tf.random.stateless_uniform([update.global_batch], seed=key),
                    _PENALTY_EPS,
                )
                penalty = losses.gradient_penalty(c, clips, fake, eps, update.loss_scale)
                per_sample = (
                    losses.wasserstein_critic_loss(real_scores, fake_scores)
                    + self.cfg.task.loss.gradient_penalty_weight * penalty
                )
            else:  # BatchNorm: real and fake batches are normalised apart, as in VideoGAN
                real_scores, fake_scores = c(clips, training=True), c(fake, training=True)
                per_sample = losses.gan_critic_loss(real_scores, fake_scores)
            loss = update.mean(per_sample)
            update.minimize(tape, loss)
        if self.wgan:
            return {
                "critic/loss": loss,
                "critic/wasserstein_video": update.mean(real_scores - fake_scores),
                "critic/gradient_penalty_video": update.mean(penalty),
            }
        return {
            "critic/loss": loss,
            "critic/real_probability": update.mean(tf.sigmoid(real_scores)),
            "critic/fake_probability": update.mean(tf.sigmoid(fake_scores)),
        }

    def generator_step(self, update: Update, batch=None) -> dict:
        """One generator update on one replica's share of the global batch of noise."""
        g, c = self.float32_networks(self.nets.generator, self.nets.critic)
        z = self._noise(update, _GENERATOR_NOISE)
        with tf.GradientTape() as tape:
            if self.nets.two_stream:
                parts = g.streams(z, training=True)
                fake = parts["video"]
            else:
                fake = g(z, training=True)
            scores = c(fake, training=True)
            adversarial = (
                losses.wasserstein_generator_loss if self.wgan else losses.gan_generator_loss
            )
            terms = {"adversarial_video": adversarial(scores)}
            if self.nets.two_stream:
                terms["mask_sparsity"] = (
                    self.cfg.task.loss.mask_sparsity_weight
                    * losses.mask_sparsity_loss(parts["mask"])
                )
            averaged = {k: update.mean(v) for k, v in terms.items()}
            loss = tf.add_n(list(averaged.values()))
            update.minimize(tape, loss)
        return {**{f"generator/{k}": v for k, v in averaged.items()}, "generator/loss": loss}

    # ------------------------------------------------------------------ samples and report
    def sample_inputs(self, count: int = 4):
        """Fixed noise for the sample sheets."""
        return sample_noise(count, self.cfg.task.model.noise_dim, self.cfg.trainer.seed)

    def generate(self, z) -> np.ndarray:
        """Inference-mode clips for noise `z` (numpy in, numpy out)."""
        (generator,) = self.float32_networks(self.nets.generator)
        return np.asarray(generator(z, training=False))

    def sample_sheet(self, inputs):
        return "samples/generated", generation_sheet(self.generate(inputs))

    def describe(self) -> str:
        """The dry-run report of a generation config: networks, shapes, losses."""
        m, t = self.cfg.task.model, self.cfg.trainer
        nets = build_generation_networks(self.cfg)
        video = (None, m.frames, m.resolution, m.resolution, m.channels)
        rows = [
            (f"G {type(nets.generator).__name__}", nets.generator, (None, m.noise_dim)),
            (f"C {type(nets.critic).__name__}", nets.critic, video),
        ]
        lines = network_table(rows, 32)
        lines.append(
            f"generation {m.generator}: z ~ N(0, I) of {m.noise_dim} -> code {code_shape(self.cfg)}"
        )
        if self.wgan:
            lines.append(
                f"loss: WGAN-GP (lambda {self.cfg.task.loss.gradient_penalty_weight}); critic "
                f"updates per generator update: {t.n_critic}"
            )
        else:
            weight = self.cfg.task.loss.mask_sparsity_weight
            sparsity = f" + {weight} * mask L1" if m.generator == "videogan_two_stream" else ""
            lines.append(
                f"loss: GAN cross-entropy (non-saturating generator){sparsity}; "
                f"discriminator updates per generator update: {t.n_critic}"
            )
        return "\n".join(lines)


def load_generator(workdir: str | os.PathLike, step: int | None = None):
    """Restores a generation run's generator; returns (cfg, generator, step)."""
    task, at_step = GenerationTask.from_run(workdir, step)
    return task.cfg, task.nets.generator, at_step
