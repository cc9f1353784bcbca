"""idcg_tf.allocator: the training tools start again under jemalloc where the system has it,
TensorFlow's tensors then come from it, and the PyTorch peer runs on the system's defaults."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_tool
from idcg_tf import allocator

# Relaunches itself as a training tool does, then says what this process runs on.
PROBE = (
    "from idcg_tf import allocator; allocator.relaunch_with_jemalloc(); "
    "import idcg_tf, os, glob; "
    "threads = {open(f).read().strip() for f in glob.glob('/proc/self/task/*/comm')}; "
    "print(allocator.jemalloc_loaded(), os.environ.get('TF_ONEDNN_USE_SYSTEM_ALLOCATOR'), "
    "'jemalloc_bg_thd' in threads)"
)


def _probe(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("IDCG_JEMALLOC", "TF_ONEDNN"))}
    full.pop(allocator.ALLOCATOR_ENV, None)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, env=full
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_a_training_process_runs_under_jemalloc_where_the_system_has_it():
    library = allocator.find_jemalloc()
    proc = _probe()
    assert proc.returncode == 0, proc.stderr
    if library:  # CI installs it (.ci/install_jemalloc.sh); its own thread returns memory
        assert proc.stdout.split() == [library, "1", "True"]
    else:
        assert proc.stdout.split() == ["None", "None", "False"]
    # The user's choice: glibc's malloc and TF's pool.
    proc = _probe(IDCG_ALLOCATOR="system")
    assert proc.returncode == 0 and proc.stdout.split() == ["None", "None", "False"], proc.stderr


def test_a_library_named_by_the_user_is_preloaded():
    library = allocator.find_jemalloc()
    if library is None:
        pytest.fail("no libjemalloc on this machine: apt-get install libjemalloc2 (.ci/run does)")
    proc = _probe(IDCG_JEMALLOC=library)
    assert proc.returncode == 0 and proc.stdout.split()[0] == library, proc.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"IDCG_ALLOCATOR": "tcmalloc"},
            "IDCG_ALLOCATOR='tcmalloc': expected 'jemalloc' or 'system'",
        ),
        (
            {"IDCG_JEMALLOC": "/no/libjemalloc.so.2"},
            "IDCG_JEMALLOC='/no/libjemalloc.so.2': no such file",
        ),
    ],
)
def test_a_bad_allocator_setting_is_a_one_line_error(env, message):
    proc = run_tool(str(ROOT / "tools" / "train.py"), "--config", "tiny", "--dry-run", env=env)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {message}", proc.stderr


def test_the_peer_environment_drops_only_what_the_relaunch_added():
    lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    relaunched = {
        "LD_PRELOAD": f"{lib} /opt/user/libfoo.so",
        "MALLOC_CONF": allocator.MALLOC_CONF,
        allocator.PRELOADED_ENV: lib,
        "PATH": "/usr/bin",
    }
    assert allocator.peer_environment(relaunched) == {
        "LD_PRELOAD": "/opt/user/libfoo.so",
        "PATH": "/usr/bin",
    }
    # A user's own preload and MALLOC_CONF stay where nothing was relaunched.
    own = {"LD_PRELOAD": lib, "MALLOC_CONF": "narenas:1", "PATH": "/usr/bin"}
    assert allocator.peer_environment(own) == own


def test_the_loaded_library_is_read_from_the_process_maps(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert allocator.jemalloc_loaded(str(maps)) is None
    maps.write_text("7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n")
    assert allocator.jemalloc_loaded(str(maps)) == "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
