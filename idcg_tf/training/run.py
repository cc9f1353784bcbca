"""The train tool's library side: dry-run report and a full run from a config."""

from __future__ import annotations

from pathlib import Path

from idcg_tf.config import Config


def describe_networks(cfg: Config) -> str:
    """Parameter counts and input -> output shapes of the four networks, built on the CPU."""
    if cfg.generation.model:
        from idcg_tf.generation import describe_networks as describe_generation

        return describe_generation(cfg)
    from idcg_tf.models import build_networks

    m = cfg.model
    nets = build_networks(m)
    image = (None, m.resolution, m.resolution, m.channels)
    video = (None, m.frames, m.resolution, m.resolution, m.channels)
    rows = [
        ("G_Y image_to_video", nets.image_to_video, image),
        ("G_X video_to_image", nets.video_to_image, video),
        ("C_X image_critic", nets.image_critic, image),
        ("C_Y video_critic", nets.video_critic, video),
    ]
    lines = [f"{'network':22} {'parameters':>12}  input -> output"]
    for name, net, shape in rows:
        out = net.compute_output_shape(shape)
        lines.append(f"{name:22} {net.count_params():>12,}  {shape} -> {tuple(out)}")
    m_info = (f"latent code {m.latent_size}x{m.latent_size}x{m.image_encoder_widths[-1]} = "
              f"{m.latent_frames} frames x {m.image_encoder_widths[-1] // m.latent_frames} "
              f"channels; {m.time_strides} of {m.num_strided} 3D layers stride over time")
    lines.append(m_info)
    for name, net, shape in rows[2:]:
        form = f", form {m.video_critic_form}" if net is nets.video_critic else ""
        lines.append(f"{name} layers{form}:")
        lines += [f"  {line}" for line in net.describe(shape)]
    return "\n".join(lines)


def default_workdir(config_path: str | Path) -> Path:
    return Path("runs") / Path(config_path).stem


def train(cfg: Config, workdir: str | Path) -> dict:
    """Trains (or resumes) a run and returns its last metrics."""
    if cfg.generation.model:  # paper Sec. 4.2: noise -> clip
        from idcg_tf.generation.trainer import GenerationTrainer as Trainer
    else:
        from idcg_tf.training.trainer import Trainer

    trainer = Trainer(cfg, workdir)
    metrics = trainer.train()
    if trainer.chief:
        print(f"done: step {trainer.current_step}; checkpoints in {Path(workdir) / 'checkpoints'}, "
              f"TensorBoard: tensorboard --logdir {Path(workdir) / 'tensorboard'}, "
              f"samples in {Path(workdir) / 'samples'}", flush=True)
    return metrics
