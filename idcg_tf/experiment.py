"""The composition root of a training run: the task a config names, the loop, its hooks.

`tools/train.py` calls `describe_networks` (--dry-run) or `train`; tests and benchmarks build a
trainer with `make_trainer`; `load_task` gives back any run's trained task (modules below this
one use their task class's `from_run`). This is the one module that knows every task and hook.
"""

from __future__ import annotations

from pathlib import Path

from idcg_tf.config import Config
from idcg_tf.runs import load_config
from idcg_tf.training.loop import Trainer
from idcg_tf.training.task import Task


def make_task(cfg: Config) -> Task:
    """The task of `cfg.task.type`."""
    if cfg.task.type == "generation":  # paper Sec. 4.2: noise -> clip
        from idcg_tf.generation.task import GenerationTask

        return GenerationTask(cfg)
    from idcg_tf.translation.task import TranslationTask

    return TranslationTask(cfg)


def load_task(workdir: str | Path, step: int | None = None) -> tuple[Task, int]:
    """Any run's task with its networks restored from checkpoint `step` (default the newest
    intact one), and that step."""
    task = make_task(load_config(workdir))
    return task, task.restore_run(workdir, step)


def hooks(cfg: Config) -> list:
    """Periodic work beyond the loop's own: the identity score curve (Fig. 6) of translation
    runs with trainer.facenet_score on."""
    if cfg.task.type != "translation" or not cfg.trainer.facenet_score:
        return []
    from idcg_tf.evaluation.score_hook import IdentityScoreHook

    return [IdentityScoreHook(cfg.trainer.facenet_score_every)]


def make_trainer(
    cfg: Config, workdir: str | Path, strategy=None, log=None, task: Task | None = None
) -> Trainer:
    """The training loop over `task` (default: the config's, with its hooks attached)."""
    extra = hooks(cfg) if task is None else []
    task = task or make_task(cfg)
    return Trainer(task, workdir, strategy=strategy, log=log, hooks=extra)


def describe_networks(cfg: Config) -> str:
    """The dry-run report of the config's task: networks, shapes, losses (built on the CPU)."""
    return make_task(cfg).describe()


def default_workdir(config_path: str | Path) -> Path:
    return Path("runs") / Path(config_path).stem


def train(cfg: Config, workdir: str | Path, task: Task | None = None) -> dict:
    """Trains (or resumes) a run and returns its last metrics. `task`: a task of your own
    (a `Task` subclass built on `cfg`) instead of the one `cfg.task.type` names."""
    with make_trainer(cfg, workdir, task=task) as trainer:
        metrics = trainer.train()
    if trainer.chief:
        print(
            f"done: step {trainer.current_step}; checkpoints in {Path(workdir) / 'checkpoints'}, "
            f"TensorBoard: tensorboard --logdir {Path(workdir) / 'tensorboard'}, "
            f"samples in {Path(workdir) / 'samples'}",
            flush=True,
        )
    return metrics
