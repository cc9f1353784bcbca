"""The memory allocator of a training process: jemalloc where the system has it. TF-free.

TensorFlow's CPU ops take their tensors from its own pool, and oneDNN's kernels take their
scratch buffers (up to tens of MiB a call, on every call of some gradients) from `malloc`. glibc
maps each large block on allocation and unmaps it when freed, so every call faults in and zeroes
fresh pages; keeping glibc's heap instead holds more memory at the peak. jemalloc reuses freed
blocks and returns idle memory after a delay, and with TF's tensors in it too
(`TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1`) one allocator serves both. Measured on a training
iteration (docs/performance.md, "jemalloc"): faster, and at batch 4 no more memory at the peak.

jemalloc has to be in the process from its start (`LD_PRELOAD`), so the training tools start
themselves again with it (`relaunch_with_jemalloc`, before anything else runs) where the system
has Debian's `libjemalloc2` or the library named by `IDCG_JEMALLOC`, and
`IDCG_ALLOCATOR=system` keeps glibc and TF's pool.
"""

from __future__ import annotations

import os
import sys

from idcg_tf.errors import UserError

ALLOCATOR_ENV = "IDCG_ALLOCATOR"  # "jemalloc" (the default where found) or "system"
LIBRARY_ENV = "IDCG_JEMALLOC"  # a libjemalloc.so path, where it is not in a standard place
PRELOADED_ENV = "IDCG_JEMALLOC_PRELOADED"  # set by the relaunch: the library it preloaded
TF_SYSTEM_ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
# oversize_threshold:0: by jemalloc's default, allocations of 8 MiB and more go to an arena of
# their own that returns them to the system at once: glibc's behaviour, which this module is
# here to avoid. background_thread:true: freed memory is returned by jemalloc's own thread, on
# time, rather than when the training threads next allocate: a lower peak, no slower
# (docs/performance.md).
MALLOC_CONF = "oversize_threshold:0,background_thread:true"
STANDARD_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",  # Debian, Ubuntu: apt-get install libjemalloc2
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",  # Fedora, RHEL: dnf install jemalloc
    "/usr/lib/libjemalloc.so.2",  # Arch, Alpine
)


def find_jemalloc(environ=os.environ) -> str | None:
    """The libjemalloc to preload: `IDCG_JEMALLOC`, else the first standard path that exists."""
    named = environ.get(LIBRARY_ENV)
    if named:
        return named if os.path.isfile(named) else None
    return next((path for path in STANDARD_PATHS if os.path.isfile(path)), None)


def jemalloc_loaded(maps: str = "/proc/self/maps") -> str | None:
    """The path of the libjemalloc mapped into this process, or None."""
    try:
        with open(maps) as f:
            for line in f:
                path = line.split(maxsplit=5)[-1].strip()
                if "libjemalloc" in os.path.basename(path):
                    return path
    except OSError:
        pass
    return None


def relaunch_with_jemalloc(environ=os.environ) -> None:
    """Replaces this process with the same command under jemalloc (`LD_PRELOAD`), where it is
    not loaded yet, the system has it and the user did not choose `IDCG_ALLOCATOR=system`.
    Returns only where it does not relaunch. Call it first thing in a tool's entry point."""
    choice = environ.get(ALLOCATOR_ENV, "jemalloc")
    if choice == "system" or not sys.platform.startswith("linux"):
        return
    if choice != "jemalloc":
        raise UserError(f"{ALLOCATOR_ENV}={choice!r}: expected 'jemalloc' or 'system'")
    if environ.get(PRELOADED_ENV) or jemalloc_loaded():
        return  # relaunched already (or the user preloaded it)
    library = find_jemalloc(environ)
    if library is None:
        if environ.get(LIBRARY_ENV):
            raise UserError(f"{LIBRARY_ENV}={environ[LIBRARY_ENV]!r}: no such file")
        return
    env = dict(environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [library, environ.get("LD_PRELOAD")]))
    env.setdefault("MALLOC_CONF", MALLOC_CONF)
    env[PRELOADED_ENV] = library
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def configure_tensorflow(environ=os.environ) -> bool:
    """Before TensorFlow is imported: where jemalloc is in the process, TF's oneDNN ops take
    their tensors from it too (`TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1`), unless the user set the
    variable. With glibc's malloc that is slower, so nothing changes there. Returns whether it
    set the variable."""
    if environ.get(TF_SYSTEM_ALLOCATOR_ENV) is not None or not jemalloc_loaded():
        return False
    environ[TF_SYSTEM_ALLOCATOR_ENV] = "1"
    return True


def describe(environ=os.environ) -> str:
    """One line for logs and benchmark records: which allocator serves this process."""
    library = jemalloc_loaded()
    tensors = "TF's tensors too" if environ.get(TF_SYSTEM_ALLOCATOR_ENV) == "1" else "TF's pool"
    if library:
        return f"jemalloc ({library}; {tensors}; MALLOC_CONF={environ.get('MALLOC_CONF', '')})"
    return f"glibc malloc ({tensors})"


def peer_environment(environ=os.environ) -> dict:
    """The environment for a process that should run on the system's defaults (the PyTorch
    peer of `benchmark train`): without what the relaunch added."""
    env = dict(environ)
    library = env.pop(PRELOADED_ENV, None)
    if library:
        rest = [p for p in env.get("LD_PRELOAD", "").split() if p != library]
        if rest:
            env["LD_PRELOAD"] = " ".join(rest)
        else:
            env.pop("LD_PRELOAD", None)
        if env.get("MALLOC_CONF") == MALLOC_CONF:
            env.pop("MALLOC_CONF")
    return env
