"""Every command a user is shown runs: each command line in README.md and docs/*.md (code
blocks and inline code) is matched to a run of the same program below, at tiny size, with
every option the docs use; each Makefile target is run by .ci/run, or at tiny size here
through the program its recipe calls.

The coverage check is quick and runs in `make test`; the runs themselves take minutes (they
prepare real faces, train, evaluate, export, translate, generate, benchmark and compare) and
run in `make test-slow`, which CI also runs. A refactor that breaks a documented command, or
a doc that shows a command or option no run below uses, turns CI red.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from conftest import ROOT
from test_app import APP_OPTIONS
from test_packaging import SCRIPTS as CONSOLE  # console script -> the tools/ script it runs

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(python3? (tools/\S+\.py|-m idcg\S*)|idcg-[a-z-]+|make [a-z-]+)")
# Options shown in the docs that no run here can use, and why.
NOT_RUN = {
    ("benchmark train", "--torch-peer"): "needs a PyTorch venv (docs/performance.md) that CI "
    "does not install; `--torch-peer` with a missing interpreter is a one-line error, run below",
}
# Programs a test of their own runs as a user does (a server, in a browser), with its options.
RUN_ELSEWHERE = {"app": ("tests/test_app.py (make test-app)", set(APP_OPTIONS))}
# Makefile targets .ci/run runs itself, and the two that only tidy the tree.
RUN_BY_CI = {
    "install",
    "lint",
    "test",
    "test-slow",
    "install-io",
    "test-io",
    "install-app",
    "test-app",
    "check-install",
}
NOT_RUN_TARGETS = {
    "format": "rewrites the tree; `make lint` runs the same ruff rules in check mode",
    "clean": "deletes the venvs and runs",
}


def _code(text: str):
    """Lines of fenced and indented code blocks, and inline code spans."""
    fenced, previous_blank = False, True
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            yield line.strip()
        elif line.startswith("    ") and (previous_blank or line.strip()):
            yield line.strip()
        for span in re.findall(r"`([^`]+)`", line) if not fenced else ():
            yield span.strip()
        previous_blank = not line.strip()


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) for every command line the docs show, continuations joined."""
    found = []
    for path in DOCS:
        buf = ""
        for line in _code(path.read_text()):
            line = re.sub(r"^\(\d+\)\s*", "", line)  # numbered commands in performance.md
            line = re.sub(r"^([A-Z_]+=\S+\s+)+", "", line)  # leading VAR=value settings
            if not buf and not COMMAND.match(line):
                continue
            buf = f"{buf} {line}".strip()
            if buf.endswith("\\"):
                buf = buf[:-1].rstrip()
                continue
            found.append((path.name, buf.split("  #")[0].split(" # ")[0].strip()))
            buf = ""
    return found


def program(command: str) -> str:
    """'train', 'benchmark infer', 'make demo', ... for a command line."""
    words = command.split()
    if words[0] == "make":
        return f"make {words[1]}"
    if words[0] in CONSOLE:
        name, rest = CONSOLE[words[0]], words[1:]
    else:
        name, rest = Path(words[1]).stem, words[2:]
    if name == "benchmark" and rest and not rest[0].startswith("-"):
        name = f"benchmark {rest[0]}"
    return name


def options(command: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", command))


# ------------------------------------------------------------------ the tiny runs
# Each: (program, argument list); {name} fields are filled from the fixture's paths. They run
# in this order: later ones use what earlier ones wrote.
TINY_RUNS = [
    ("prepare_data", "--help"),
    (
        "prepare_data",
        "--demo {w}/media --output {w}/demo_records --resolution 32 --frames 8 --clip-stride 1 "
        "--test-fraction 0.25 --time-split",
    ),
    (
        "prepare_data",
        "--images celeba:{w}/CelebA --frontal-only --videos ytf:{w}/YouTubeFaces/frame_images_DB "
        "--output {w}/celeb --resolution 32 --frames 8",
    ),
    (
        "prepare_data",
        "--images pasc:{w}/PaSC/still --videos pasc:{w}/PaSC/video --output {w}/pasc "
        "--resolution 32 --frames 8",
    ),
    (
        "prepare_data",
        "--images images:{w}/my/photos --videos videos:{w}/my/videos --output {w}/mine "
        "--resolution 32 --frames 8",
    ),
    ("idcg-train", "--config tiny --dry-run"),
    ("train", "--config configs/celeb_model1.yaml --dry-run"),
    ("train", "--config tiny {data} {steps} --workdir {w}/runs/tiny"),
    ("evaluate", "--workdir {w}/runs/tiny --samples 2"),
    (
        "evaluate",
        "--workdir {w}/runs/tiny --step 2 --samples 2 --curve --images {test_images} "
        "--clips {test_clips} --output {w}/eval",
    ),
    ("export", "--workdir {w}/runs/tiny --name tiny --output {w}/exported"),
    ("export", "--workdir {w}/runs/tiny --step 2 --name tiny --output {w}/exported"),
    ("idcg-translate", "--help"),
    (
        "translate",
        "--model {w}/exported/tiny --input {w}/media/images/test/astronaut.png "
        "{w}/short.mp4 {w}/more_faces --output {w}/translated --all-clips --batch-size 2 "
        "--facenet",
    ),
    ("translate", "--model {w}/exported/tiny --frames --input {w}/frames_root --output {w}/tr2"),
    ("export", "--workdir {w}/runs/tiny --name tiny_lite --output {w}/exported --litert"),
    (
        "translate",
        "--model {w}/exported/tiny_lite --backend litert_int8 "
        "--input {w}/media/images/test/astronaut.png --output {w}/tr_lite",
    ),
    (
        "train",
        "--config configs/tiny_generation.yaml --set task.model.generator=wgan_one_stream "
        "{clips} {steps} --workdir {w}/runs/gen",
    ),
    (
        "generate",
        "--workdir {w}/runs/gen --num 2 --output {w}/generated --step 2 --seed 0 --format both "
        "--fps 8",
    ),
    (
        "evaluate",
        "--generation --compare {w}/runs/gen {w}/runs/gen --output {w}/fig3 --samples 2 "
        "--frame-step 4 --clips {test_clips} --seed 0",
    ),
    (
        "idcg-compare",
        "--config tiny --output {w}/compare --samples 2 --results {w}/compare/results.md "
        "{data} {steps}",
    ),
    (
        "evaluate",
        "--compare {w}/compare/model1 {w}/compare/model2 --samples 2 --output {w}/table1",
    ),
    (
        "benchmark train",
        "--config tiny --batch 2 --iterations 1 --warmup 0 --set trainer.n_critic=1 "
        "--compare-impl custom --profile {w}/profile",
    ),
    (
        "benchmark train",
        "--config tiny --batch 2 --iterations 1 --warmup 0 --torch-peer {w}/no/python",
    ),
    ("benchmark facenet", "--config tiny --batch 1 --repeats 1"),
    (
        "benchmark data",
        "--config tiny --batch 2 --batches 2 --set task.data.train_clips={train_clips}",
    ),
    ("benchmark infer", "--config tiny --repeats 1 --rounds 2"),
    ("benchmark layers", "--config tiny --repeats 1 --rounds 2"),
    ("benchmark infer", "--config tiny --repeats 1 --torch-peer {w}/no/python"),
    ("benchmark prepare", ""),
    (
        "benchmark litert",
        "--model {w}/exported/tiny_lite --images {test_images} --clips {test_clips} --samples 2",
    ),
    ("gpu_check", "--report {w}/gpu_check.json"),
]
# Runs that must fail, with the one line they must print.
EXPECTED_ERRORS = {"--torch-peer": "error: --torch-peer"}
# The long Makefile targets at tiny size: the recipe's program, and the TINY_RUNS entry (or the
# demo script's own tiny mode) that runs it.
LONG_TARGETS = {
    "demo": "tools/demo.sh",
    "compare": "tools/compare.py",
    "benchmark": "tools/benchmark.py train",
    "gpu-check": "tools/gpu_check.py",
}


def _run_programs() -> dict[str, set[str]]:
    runs: dict[str, set[str]] = {}
    for prog, args in TINY_RUNS:
        name = CONSOLE.get(prog, prog)
        runs.setdefault(name, set()).update(options(args))
    return runs


def test_every_documented_command_has_a_tiny_run():
    commands = documented_commands()
    assert len(commands) > 40  # the extraction found the docs' commands
    runs = _run_programs()
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    missing = []
    for where, command in commands:
        prog = program(command)
        if prog.startswith("make "):
            target = prog.split()[1]
            if target not in targets:
                missing.append(f"{where}: `{command}`: no such Makefile target")
            elif target not in RUN_BY_CI | set(LONG_TARGETS) | set(NOT_RUN_TARGETS):
                missing.append(f"{where}: `{command}`: no run of this target")
            continue
        if prog in RUN_ELSEWHERE:
            where_run, used = RUN_ELSEWHERE[prog]
            for option in sorted(options(command) - used):
                missing.append(f"{where}: `{command}`: {where_run} does not use {option}")
            continue
        if prog not in runs and not any(run.startswith(f"{prog} ") for run in runs):
            missing.append(f"{where}: `{command}`: no tiny run of {prog}")
            continue
        for option in sorted(options(command) - runs.get(prog, set())):
            if (prog, option) not in NOT_RUN:
                missing.append(f"{where}: `{command}`: no tiny run of {prog} uses {option}")
    assert not missing, "\n".join(missing)
    ci = (ROOT / ".ci" / "run").read_text()
    # install* are run by the others' recipes
    for target in RUN_BY_CI - {"install", "install-io", "install-app"}:
        assert f"make {target}\n" in ci, target
    for target, recipe in LONG_TARGETS.items():
        dry = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert dry.returncode == 0 and recipe.split()[0] in dry.stdout, (target, dry.stdout)
        if " " in recipe:
            assert recipe.split()[1] in dry.stdout.split(recipe.split()[0])[1].split()[0], target


# ------------------------------------------------------------------ running them
def _frames(video: Path, count: int):
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames = []
    try:
        while len(frames) < count:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    return frames


def _write_video(path: Path, frames) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    try:
        for frame in frames:
            out.write(frame)
    finally:
        out.release()


# What `_layouts` makes under the run folder, as the runs name it.
LAYOUTS = ("CelebA", "YouTubeFaces", "PaSC", "my/", "short.mp4", "more_faces", "frames_root")


def _layouts(w: Path) -> None:
    """The public datasets' folder layouts (and a user's own folders), a few real faces each,
    from the demo media the `--demo` run laid out under w/media."""
    import cv2

    stills = sorted((w / "media" / "images" / "test" / "carphone").glob("*.png"))[:4]
    video = w / "media" / "videos" / "carphone_pristine.mp4"
    frames = _frames(video, 12)
    celeba = w / "CelebA"
    for sub in ("Img/img_align_celeba", "Anno", "Eval"):
        (celeba / sub).mkdir(parents=True)
    names = [f"{k:06d}.jpg" for k in range(1, len(stills) + 1)]
    for name, still in zip(names, stills):
        cv2.imwrite(str(celeba / "Img" / "img_align_celeba" / name), cv2.imread(str(still)))
    (celeba / "Anno" / "identity_CelebA.txt").write_text(
        "".join(f"{n} {1 + k % 2}\n" for k, n in enumerate(names))
    )
    (celeba / "Eval" / "list_eval_partition.txt").write_text(
        "".join(f"{n} {2 if k == 0 else 0}\n" for k, n in enumerate(names))
    )
    ytf = w / "YouTubeFaces" / "frame_images_DB" / "Carphone_Man" / "0"
    ytf.mkdir(parents=True)
    for k, frame in enumerate(frames, start=1):
        cv2.imwrite(str(ytf / f"0.{k}.jpg"), frame)
    pasc = w / "PaSC"
    (pasc / "still").mkdir(parents=True)
    cv2.imwrite(str(pasc / "still" / "04213d1190.jpg"), cv2.imread(str(stills[0])))
    _write_video(pasc / "video" / "handheld" / "04213d6302.mp4", frames)
    (w / "my" / "photos").mkdir(parents=True)
    shutil.copy(stills[1], w / "my" / "photos" / "me.png")
    _write_video(w / "my" / "videos" / "talk.mp4", frames)
    _write_video(w / "short.mp4", frames[:9])
    (w / "more_faces").mkdir()
    shutil.copy(stills[2], w / "more_faces" / "face.png")
    root = w / "frames_root" / "carphone"
    root.mkdir(parents=True)
    for k, frame in enumerate(frames, start=1):
        cv2.imwrite(str(root / f"frame_{k:03d}.jpg"), frame)


def _command(prog: str, args: str, fields: dict) -> list[str]:
    words = shlex.split(args.format(**fields))
    if prog in CONSOLE:
        return [str(Path(sys.executable).parent / prog), *words]
    name, *sub = prog.split()
    return [sys.executable, str(ROOT / "tools" / f"{name}.py"), *sub, *words]


@pytest.fixture(scope="module")
def fields(synthetic_data, tmp_path_factory):
    w = tmp_path_factory.mktemp("documented")
    data = {k: v for k, v in synthetic_data.items() if k != "dir"}
    return types.SimpleNamespace(
        w=w,
        values={
            "w": str(w),
            **data,
            "data": " ".join(f"--set task.data.{k}={v}" for k, v in data.items()),
            "clips": " ".join(f"--set task.data.{k}={v}" for k, v in data.items() if "clips" in k),
            "steps": "--set trainer.steps=2 --set trainer.n_critic=1 --set trainer.checkpoint_every=1",
        },
    )


# What a run must leave behind besides exit status 0, keyed by one of its options.
OUTPUTS = {
    "--demo": "demo_records/manifest.json",
    "--output {w}/celeb": "celeb/manifest.json",
    "--output {w}/pasc": "pasc/manifest.json",
    "--output {w}/mine": "mine/manifest.json",
    "--output {w}/eval": "eval/metrics.json",
    "--output {w}/translated": "translated/facenet_distances.json",
    "--output {w}/tr_lite": "tr_lite",
    "--output {w}/generated": "generated",
    "--output {w}/fig3": "fig3",
    "--results {w}/compare/results.md": "compare/results.md",
    "--output {w}/table1": "table1/table.md",
    "--report {w}/gpu_check.json": "gpu_check.json",
}


def _run_id(k: int) -> str:
    prog, args = TINY_RUNS[k]
    return f"{k:02d}-{prog.replace(' ', '-')}"


@pytest.mark.slow
@pytest.mark.parametrize("k", range(len(TINY_RUNS)), ids=_run_id)
def test_tiny_run_of_a_documented_command(fields, k):
    """TINY_RUNS[k] as a user runs it; they run in order, later ones on earlier ones' outputs."""
    prog, args = TINY_RUNS[k]
    needs_layouts = any(f"{{w}}/{name}" in args for name in LAYOUTS)
    if needs_layouts and not (fields.w / "CelebA").exists():
        if not (fields.w / "media").exists():  # run alone: the --demo run would lay it out
            from idcg_tf.prepare.demo_media import lay_out_demo_media

            lay_out_demo_media(fields.w / "media")
        _layouts(fields.w)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", IDCG_CONV_AUTOTUNE="0")
    command = _command(prog, args, fields.values)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280, env=env)
    expected = next((e for o, e in EXPECTED_ERRORS.items() if o in args), None)
    if expected:
        (last,) = proc.stderr.strip().splitlines()[-1:] or [""]
        assert proc.returncode == 2 and last.startswith(expected), proc.stderr[-2000:]
        return
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0.2-era config keys" not in proc.stderr  # the docs show the current keys
    for option, output in OUTPUTS.items():
        if option in args:
            path = fields.w / output
            assert path.exists() and (path.is_file() or any(path.iterdir())), path
    if prog == "idcg-compare":
        assert (fields.w / "compare" / "results.md").read_text().startswith("# Results")
    if prog == "gpu_check":
        assert json.loads((fields.w / "gpu_check.json").read_text())["ok"]


@pytest.mark.slow
def test_make_demo_at_tiny_size(tmp_path):
    """tools/demo.sh (`make demo`) end to end, its training cut to 2 steps."""
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHON=sys.executable,
        DEMO_OUT=str(tmp_path),
        DEMO_SET="trainer.steps=2 trainer.checkpoint_every=1",
    )
    proc = subprocess.run(
        ["bash", str(ROOT / "tools" / "demo.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=800,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "0.2-era config keys" not in proc.stdout + proc.stderr  # it uses the current keys
    assert "Demo finished" in proc.stdout
    assert (tmp_path / "runs" / "demo" / "eval" / "metrics.json").is_file()
    assert any((tmp_path / "runs" / "demo" / "translations").iterdir())
