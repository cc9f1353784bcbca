"""Training runs end to end on tiny data: losses, outputs, divergence, resume."""

import json
import random
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, run_tool
from idcg_tf.experiment import make_trainer
from idcg_tf.training import TrainingDiverged
from test_console import STARTUP_NOISE


@pytest.mark.parametrize(
    "variant",
    # Model2 (~18 s) adds the pixel identity loss to the same loop: make test-slow (CI).
    ["model1", pytest.param("model2", marks=pytest.mark.slow)],
)
def test_trains_with_finite_losses_and_writes_outputs(tiny_cfg, tmp_path, variant):
    cfg = tiny_cfg(
        f"task.variant={variant}",
        "trainer.steps=4",
        "trainer.log_every=2",
        "trainer.sample_every=4",
        "trainer.checkpoint_every=2",
        "trainer.facenet_score_every=3",
        "trainer.facenet_score_samples=3",
        f"trainer.facenet_score={str(variant == 'model1').lower()}",
    )
    lines = []
    trainer = make_trainer(cfg, tmp_path, log=lines.append)
    before = [w.numpy().copy() for w in trainer.generator_variables]
    metrics = trainer.train()
    assert all(np.isfinite(v) for v in metrics.values())
    assert ("generator/pixel_identity" in metrics) == (variant == "model2")
    assert trainer.current_step == 4
    after = [w.numpy() for w in trainer.generator_variables]
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, after))
    # Console progress: step, losses, speed, ETA.
    progress = [line for line in lines if line.startswith("step 4/4 |")]
    assert progress and "it/s" in progress[0] and "ETA" in progress[0]
    # The run directory.
    assert (tmp_path / "config.yaml").is_file()
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.index")) == [
        "ckpt-2.index",
        "ckpt-4.index",
    ]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "generator/loss" in r] == [2, 4]
    sheet = tmp_path / "samples" / "step_0000004.png"
    assert sheet.is_file()
    # TensorBoard: every loss term, the Wasserstein estimates, the penalty, speed and samples.
    tags = set()
    for event_file in (tmp_path / "tensorboard").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(v.tag for v in event.summary.value)
    for tag in (
        "critic/wasserstein_image",
        "critic/wasserstein_video",
        "critic/gradient_penalty_image",
        "critic/gradient_penalty_video",
        "generator/cycle",
        "generator/adversarial_video",
        "generator/loss",
        "speed/steps_per_second",
        "samples/image_to_video_to_image",
    ):
        assert tag in tags, tag
    # The identity score curve (Fig. 6), when asked for: every facenet_score_every steps and
    # at the end, on facenet_score_samples held-out (test split) samples per direction.
    scores = [r for r in records if "identity_score/image_to_video" in r]
    assert ("identity_score/image_to_video" in tags) == (variant == "model1")
    if variant == "model1":
        assert [r["step"] for r in scores] == [3, 4]
        for r in scores:
            assert 0.0 <= r["identity_score/video_to_image"] <= 2.0
            # 3 of the test split's 8 images and 4 clips.
            assert r["identity_score/samples_image_to_video"] == 3
            assert r["identity_score/samples_video_to_image"] == 3
        assert sum("identity score (FaceNet, held-out samples)" in line for line in lines) == 2
    else:
        assert scores == []


def test_checkpoint_restores_every_weight_and_batchnorm_statistic(tiny_cfg, tmp_path):
    from idcg_tf.experiment import load_task

    trainer = make_trainer(tiny_cfg("trainer.steps=2"), tmp_path, log=lambda line: None)
    trainer.train(samples=())
    variables = {n.name: n.variables for n in trainer.nets.generators + trainer.nets.critics}
    moving = [v for vs in variables.values() for v in vs if "moving_mean" in v.path]
    assert moving and any(np.abs(v.numpy()).max() > 0 for v in moving)
    task, step = load_task(tmp_path)
    nets = task.nets
    assert step == 2
    for net in nets.generators + nets.critics:
        restored = {v.path: v.numpy() for v in net.variables}
        assert len(restored) == len(variables[net.name])
        for v in variables[net.name]:
            np.testing.assert_array_equal(restored[v.path], v.numpy(), err_msg=v.path)


@pytest.mark.slow  # ~20 s: two trainers; make test-slow (CI) runs it
# The 1e39 weight below overflows float32 on purpose; numpy says so when TF casts it.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_non_finite_loss_stops_and_keeps_last_checkpoint(tiny_cfg, tmp_path):
    trainer = make_trainer(
        tiny_cfg("trainer.steps=2", "trainer.checkpoint_every=1"), tmp_path, log=lambda line: None
    )
    trainer.train(samples=())
    # A cycle weight beyond float32 range makes that term infinite at the next step.
    diverging = tiny_cfg(
        "trainer.steps=4", "trainer.checkpoint_every=1", "task.loss.cycle_weight=1e39"
    )
    trainer = make_trainer(diverging, tmp_path, log=lambda line: None)
    with pytest.raises(TrainingDiverged, match=r"step 3: loss term generator/\w+ is (inf|nan)"):
        trainer.train(samples=())
    assert trainer.manager.latest_checkpoint.endswith("ckpt-2")


def test_model_change_on_resume_is_refused(tiny_cfg, tmp_path):
    from idcg_tf.errors import UserError

    (tmp_path / "config.yaml").write_text(tiny_cfg().to_yaml())  # what a run leaves behind

    with pytest.raises(UserError, match="model.residual_blocks differs"):
        make_trainer(tiny_cfg("task.model.residual_blocks=2"), tmp_path)


def _train_args(synthetic_data, workdir):
    data = [f"--set=task.data.{k}={v}" for k, v in synthetic_data.items() if k != "dir"]
    return [
        str(ROOT / "tools" / "train.py"),
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--workdir",
        str(workdir),
        "--set=trainer.steps=8",
        "--set=trainer.checkpoint_every=2",
        "--set=trainer.log_every=1",
        "--set=trainer.deterministic=true",
        *data,
    ]


def _signal_at(args: list[str], step: int, sig, timeout: int) -> tuple[int, str]:
    """Runs tools/train.py with `args`, sends `sig` once it logs `step`, waits at most
    `timeout` s for it to end; returns its exit status and stderr."""
    child = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in child.stdout:
            if line.startswith(f"step {step}/8"):
                child.send_signal(sig)
                break
        _, err = child.communicate(timeout=timeout)
    finally:
        child.kill()
    return child.returncode, err


def _metrics_at(workdir, step):
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["step"] == step][-1]


@pytest.mark.slow  # ~37 s: a training subprocess killed and rerun; make test-slow (CI)
def test_killed_run_resumes_exactly(synthetic_data, tmp_path):
    """A run of 8 steps SIGKILLed after step 5 and resumed ends with the same losses at
    step 8 as an uninterrupted run."""
    whole = tmp_path / "whole"
    proc = run_tool(*_train_args(synthetic_data, whole))
    assert proc.returncode == 0, proc.stderr[-2000:]
    # A quiet console (idcg_tf.console): none of TensorFlow's start-up lines on a CPU machine.
    for noise in STARTUP_NOISE:
        assert noise not in proc.stdout + proc.stderr, (noise, proc.stderr[-2000:])
    # Nor any other error line of TensorFlow's C++ log (a user reads one as a failed run).
    assert not re.search(r"^E\d{4} ", proc.stderr, re.M), proc.stderr[-2000:]

    killed = tmp_path / "killed"
    returncode, _ = _signal_at(_train_args(synthetic_data, killed), 5, signal.SIGKILL, 60)
    assert returncode == -signal.SIGKILL
    kept = sorted(p.name for p in (killed / "checkpoints").glob("*.index"))
    assert "ckpt-8.index" not in kept and "ckpt-4.index" in kept

    proc = run_tool(*_train_args(synthetic_data, killed))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resumed from" in proc.stdout
    expected, got = _metrics_at(whole, 8), _metrics_at(killed, 8)
    for key, value in expected.items():
        if key != "steps_per_second":
            assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def _final_checkpoint(workdir):
    reader = tf.train.load_checkpoint(str(workdir / "checkpoints" / "ckpt-8"))
    # Everything but the checkpoint's own bookkeeping (how many saves it took to get there).
    skip = ("_CHECKPOINTABLE", "save_counter")
    names = [n for n in reader.get_variable_to_shape_map() if not n.startswith(skip)]
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.slow  # ~40 s: a training subprocess preempted and rerun; make test-slow (CI)
def test_sigterm_checkpoints_and_the_same_command_resumes_exactly(synthetic_data, tmp_path):
    """SIGTERM (a preemptible VM, an eviction, a time limit) at a random step of an 8-step
    run: one line, exit status 75, a checkpoint of the step reached; the same command then
    ends with the same final checkpoint (weights, optimizer slots, step) as a run never
    stopped."""
    at = random.randint(2, 6)
    whole = tmp_path / "whole"
    assert run_tool(*_train_args(synthetic_data, whole)).returncode == 0
    stopped = tmp_path / "stopped"
    returncode, err = _signal_at(_train_args(synthetic_data, stopped), at, signal.SIGTERM, 120)
    assert returncode == 75, (at, err[-2000:])
    (line,) = err.strip().splitlines()  # one line, no traceback
    reached = int(line.split(" at step ")[1].split(":")[0])
    assert at < reached < 8, (at, line)
    assert line == (
        f"preempted (SIGTERM) at step {reached}: wrote checkpoint "
        f"{stopped / 'checkpoints' / f'ckpt-{reached}'}; the same command resumes from it"
    )
    proc = run_tool(*_train_args(synthetic_data, stopped))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"resumed from {stopped / 'checkpoints' / f'ckpt-{reached}'}" in proc.stdout
    expected, got = _final_checkpoint(whole), _final_checkpoint(stopped)
    assert expected.keys() == got.keys() and len(expected) > 50
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_dry_run_shows_paper_shapes():
    proc = run_tool(
        str(ROOT / "tools" / "train.py"),
        "--config",
        str(ROOT / "configs" / "celeb_model1.yaml"),
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "(None, 64, 64, 3) -> (None, 32, 64, 64, 3)" in proc.stdout  # G_Y
    assert "(None, 32, 64, 64, 3) -> (None, 64, 64, 3)" in proc.stdout  # G_X
    assert "variant: model1" in proc.stdout
    # Paper Sec. 3.1: the video critic is five convolutions, then a linear layer.
    critic = proc.stdout.split("C_Y video_critic layers, form paper:")[1].splitlines()[1:7]
    assert [line.split()[0] for line in critic] == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "linear",
    ]
    assert all("LeakyReLU" in line for line in critic[:4]) and "LeakyReLU" not in critic[4]
    assert critic[4].endswith("-> (1, 2, 2, 1)") and critic[5].strip() == "linear 4 -> 1"


def test_unknown_key_is_one_line_exit_2():
    proc = run_tool(
        str(ROOT / "tools" / "train.py"),
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--set",
        "trainer.stepz=3",
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines() == [proc.stderr.strip().splitlines()[-1]]
        and "trainer.stepz" in proc.stderr
    )


def test_missing_data_is_one_line_exit_2(tmp_path):
    proc = run_tool(
        str(ROOT / "tools" / "train.py"),
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--workdir",
        str(tmp_path),
        f"--set=task.data.train_images={tmp_path}/none-*.tfrecord",
        f"--set=task.data.train_clips={tmp_path}/none-*.tfrecord",
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: task.data.train_images: no TFRecord shards match")
    assert "Traceback" not in proc.stderr


def test_corrupt_record_names_the_shard(tmp_path, tiny_cfg):
    from idcg_tf.data import schema
    from idcg_tf.data.synthetic import write_synthetic
    from idcg_tf.errors import UserError

    patterns = write_synthetic(tmp_path / "data", num_images=8, num_clips=8, shards=2)
    bad = tmp_path / "data" / schema.shard_name("clips", "train", 0, 2)
    data = bad.read_bytes()
    bad.write_bytes(data[:100] + b"\0" * 64 + data[164:])  # damaged bytes, bad CRC
    cfg = tiny_cfg(
        f"task.data.train_images={patterns['images']}",
        f"task.data.train_clips={patterns['clips']}",
        "trainer.steps=2",
    )
    with pytest.raises(UserError, match=f"data.train_clips: corrupt record in {bad}"):
        make_trainer(cfg, tmp_path / "run", log=lambda line: None).train(samples=())


def test_learning_rate_decays_linearly_to_zero_over_the_tail(tiny_cfg, tmp_path):
    from idcg_tf.training.schedule import LinearDecayTail

    # CycleGAN's schedule by hand: 1e-3 for 4 of 8 updates, then 1e-3 * (8 - k) / 4.
    schedule = LinearDecayTail(1e-3, 4, 8)
    got = [float(schedule(k)) for k in (0, 4, 5, 6, 8, 9)]
    np.testing.assert_allclose(got, [1e-3, 1e-3, 7.5e-4, 5e-4, 0.0, 0.0], rtol=1e-6)
    # The trainer counts the critic's schedule in critic updates (n_critic per iteration).
    trainer = make_trainer(
        tiny_cfg(
            "trainer.steps=8",
            "trainer.n_critic=2",
            "optimizer.decay_start=0.5",
            "optimizer.learning_rate=1e-3",
        ),
        tmp_path,
        log=lambda line: None,
    )
    trainer.generator_optimizer.iterations.assign(6)
    trainer.critic_optimizer.iterations.assign(12)
    assert float(trainer.generator_optimizer.learning_rate) == pytest.approx(5e-4)
    assert float(trainer.critic_optimizer.learning_rate) == pytest.approx(5e-4)
    trainer.lock.release()
    # The default keeps the rate constant, as the paper.
    constant = make_trainer(tiny_cfg("trainer.steps=8"), tmp_path / "b", log=lambda line: None)
    constant.generator_optimizer.iterations.assign(8)
    assert float(constant.generator_optimizer.learning_rate.numpy()) == pytest.approx(
        constant.cfg.optimizer.learning_rate
    )
    constant.lock.release()
