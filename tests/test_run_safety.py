"""What a run survives: damaged checkpoints (resume from the newest intact one, or one line
and exit 2) and a second trainer on the same workdir (refused at once)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_tool
from idcg_tf import config
from idcg_tf.errors import UserError
from idcg_tf.experiment import make_trainer
from idcg_tf.translation.task import TranslationTask

DATA = "ckpt-{}.data-00000-of-00001"


def _copy(tiny_run, tmp_path) -> Path:
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run.workdir, workdir)
    return workdir


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _one_line_error(result, *names):
    assert result.returncode == 2, (result.stdout + result.stderr)[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    # TensorFlow's C++ start-up lines ("I0000 ...", "WARNING: All log messages before absl")
    # are printed before Python runs; what the tool itself says is the rest.
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not re.match(r"[IWE]\d{4} |WARNING: All log messages before absl", line)
    ]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("damage", ["truncated .data", "missing .index"])
def test_resume_skips_a_damaged_newest_checkpoint(tiny_run, tmp_path, damage, capsys):
    workdir = _copy(tiny_run, tmp_path)
    ckpts = workdir / "checkpoints"
    if damage == "truncated .data":
        _truncate(ckpts / DATA.format(2))
        at_fault = DATA.format(2)
    else:
        (ckpts / "ckpt-2.index").unlink()
        at_fault = "ckpt-2.index"
    lines = []
    with make_trainer(config.load(workdir / "config.yaml"), workdir, log=lines.append) as trainer:
        trainer.setup(dataset=[])
        assert trainer.current_step == 1
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1 and at_fault in warnings[0] and "using ckpt-1" in warnings[0], lines
    assert any("resumed from" in line and line.endswith("(step 1)") for line in lines), lines
    # The loaders of evaluate, export and translate take the same way, with the same warning.
    capsys.readouterr()
    _, step = TranslationTask.from_run(workdir)
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    assert step == 1 and len(warned) == 1 and at_fault in warned[0], warned
    with pytest.raises(UserError, match=at_fault.replace(".", r"\.")):
        TranslationTask.from_run(workdir, 2)


def _export_command(workdir, output) -> list[str]:
    options = ["--workdir", str(workdir), "--name", "x", "--output", str(output)]
    return ["tools/export.py", *options, "--no-onnx"]


def test_export_of_a_run_with_a_damaged_newest_checkpoint(tiny_run, tmp_path):
    workdir = _copy(tiny_run, tmp_path)
    _truncate(workdir / "checkpoints" / DATA.format(2))
    result = run_tool(*_export_command(workdir, tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and DATA.format(2) in warnings[0], result.stderr[-3000:]
    meta = json.loads((tmp_path / "out" / "x" / "export.json").read_text())
    assert meta["source"]["step"] == 1


@pytest.mark.slow  # ~20 s: three tools on a run with no intact checkpoint; make test-slow (CI)
def test_no_intact_checkpoint_is_one_line_exit_2(tiny_run, tmp_path):
    workdir = _copy(tiny_run, tmp_path)
    ckpts = workdir / "checkpoints"
    (ckpts / "ckpt-2.index").unlink()
    _truncate(ckpts / DATA.format(1))
    before = {p.name: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    commands = {
        "train": [
            "tools/train.py",
            "--config",
            str(workdir / "config.yaml"),
            "--workdir",
            str(workdir),
        ],
        "export": _export_command(workdir, tmp_path / "out"),
        "evaluate": [
            "tools/evaluate.py",
            "--workdir",
            str(workdir),
            "--step",
            "1",
            "--samples",
            "2",
        ],
    }
    # All at once: each spends most of its time importing TensorFlow.
    procs = {
        k: subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        )
        for k, args in commands.items()
    }
    results = {
        k: subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate())
        for k, p in procs.items()
    }
    _one_line_error(results["train"], "no intact checkpoint", "ckpt-2.index", DATA.format(1))
    _one_line_error(results["export"], "no intact checkpoint", "ckpt-2.index", DATA.format(1))
    _one_line_error(results["evaluate"], DATA.format(1), "--step")
    after = {p.name: p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    assert after == before


def test_second_trainer_on_a_locked_workdir_stops_at_once(tiny_run, tmp_path):
    import socket

    workdir = _copy(tiny_run, tmp_path)
    # The first run: a trainer of this process holds the workdir.
    first = make_trainer(config.load(workdir / "config.yaml"), workdir, log=lambda line: None)
    before = {p.relative_to(workdir): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    result = run_tool(
        "tools/train.py",
        "--config",
        str(workdir / "config.yaml"),
        "--set",
        "trainer.steps=4",
        "--workdir",
        str(workdir),
    )
    line = _one_line_error(
        result,
        "another training run uses this workdir",
        f"host {socket.gethostname()}",
        f"pid {os.getpid()}",
    )
    assert str(workdir) in line
    after = {p.relative_to(workdir): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}
    assert after == before
    first.lock.release()
    assert not (workdir / ".train.lock").exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tiny_run, tmp_path):
    import socket

    workdir = _copy(tiny_run, tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (workdir / ".train.lock").write_text(
        json.dumps({"host": socket.gethostname(), "pid": gone.pid})
    )
    lines = []
    trainer = make_trainer(config.load(workdir / "config.yaml"), workdir, log=lines.append)
    assert [line for line in lines if line.startswith("warning: ")] == [
        f"warning: {workdir / '.train.lock'}: taking over the lock of process {gone.pid} on "
        f"{socket.gethostname()}, which is gone"
    ]
    assert json.loads((workdir / ".train.lock").read_text())["pid"] == os.getpid()
    trainer.lock.release()


def test_url_workdir_is_refused_in_one_line(tmp_path):
    """A gs:// or s3:// workdir would have been written to a local ./gs:/ folder: refused."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "train.py"),
            "--config",
            "tiny",
            "--workdir",
            "s3://bucket/runs/tiny",
            "--set",
            "trainer.steps=1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: --workdir s3://bucket/runs/tiny: a URL is not supported")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s3:").exists()
