"""The CPU we run on, and TensorFlow's oneDNN kernels on it. TF-free: `idcg_tf/__init__.py`
calls `enable_onednn()` before anything imports TensorFlow.

TensorFlow's x86 Linux wheels carry two sets of CPU kernels: oneDNN's (JIT-compiled for the
CPU's widest vector ISA, AVX2 included) and TF's own Eigen ones. TF turns oneDNN on only where
the CPU has AVX512-VNNI, AVX512-BF16, AVX-VNNI or AMX (`DefaultOneDnnPolicy` in
tensorflow/core/util/util.cc). On a CPU with AVX2 + FMA only it falls back to Eigen, whose 3D
convolution gradients are far slower than oneDNN's on this model's shapes, so a training iteration
falls behind PyTorch's, which runs oneDNN on AVX2 (the measurements, with the CPU each was taken on:
docs/performance.md, first section). oneDNN is as correct on AVX2 as on AVX-512 (it picks its AVX2
kernels), so we turn it on wherever the CPU has AVX2 + FMA, unless the user chose:
`TF_ENABLE_ONEDNN_OPTS=0` keeps TF's own kernels, `=1` forces oneDNN, as in plain TensorFlow.

TF reads the variable once, when it is imported: a program that imports tensorflow before
idcg_tf gets TF's own choice. `onednn_state()` says what is in effect.
"""

from __future__ import annotations

import functools
import os
import platform
import sys

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
ONEDNN_ISA_ENV = "ONEDNN_MAX_CPU_ISA"  # oneDNN's own limit on the ISA it dispatches to
_CPUINFO = "/proc/cpuinfo"


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open(_CPUINFO) as f:
            for line in f:
                if line.split(":", 1)[0].strip() == name:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """/proc/cpuinfo's "model name" (Linux), else what `platform` knows."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none), read once: the
    layers ask at every trace."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def is_x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def enable_onednn(environ=os.environ) -> bool:
    """Sets TF_ENABLE_ONEDNN_OPTS=1 where TF would leave oneDNN off but it runs well: Linux,
    x86-64, AVX2 + FMA, the variable unset. Returns whether it set it."""
    if environ.get(ONEDNN_ENV) is not None:
        return False  # the user's choice
    if not (sys.platform.startswith("linux") and is_x86_64()):
        return False
    if not {"avx2", "fma"} <= cpu_flags():
        return False
    environ[ONEDNN_ENV] = "1"
    return True


def onednn_enabled() -> bool:
    """Whether TF's CPU kernels in this process are oneDNN's (imports TensorFlow)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TF build without it: assume oneDNN
        return True
    return bool(_pywrap_util_port.IsMklEnabled())


def tf_kernels() -> str:
    """Whose kernels TF computes with here (imports TensorFlow): "gpu" (cuDNN and TF's GPU
    kernels), else "onednn" or "eigen" (TF's own CPU kernels, oneDNN off)."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "gpu"
    return "onednn" if onednn_enabled() else "eigen"


def onednn_isa_limit() -> str | None:
    """ONEDNN_MAX_CPU_ISA when a run limits oneDNN to an older ISA (e.g. "AVX2"), else None."""
    return os.environ.get(ONEDNN_ISA_ENV) or None


def onednn_avx512() -> bool:
    """Whether oneDNN may run its AVX-512 code here: the CPU has AVX-512 and
    ONEDNN_MAX_CPU_ISA, if set, does not hold oneDNN to an older ISA (TF-free)."""
    if "avx512f" not in cpu_flags():
        return False
    limit = (onednn_isa_limit() or "").upper()
    return not limit or limit in ("ALL", "DEFAULT") or limit.startswith(("AVX512", "AVX10"))


def describe() -> dict:
    """What every published speed figure names: the CPU model, its core count, AVX-512 or
    not, oneDNN on or off (and ONEDNN_MAX_CPU_ISA where a run limited oneDNN's ISA)."""
    flags = cpu_flags()
    record = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "avx512": "avx512f" in flags,
        "avx2": "avx2" in flags,
        "onednn": onednn_enabled(),
        ONEDNN_ENV: os.environ.get(ONEDNN_ENV),
    }
    if onednn_isa_limit():
        record["onednn_max_cpu_isa"] = onednn_isa_limit()
    return record


def summary(record: dict | None = None) -> str:
    """One line of `describe()`, e.g. 'AMD EPYC 7B13 x2, AVX2 (no AVX-512), oneDNN on'."""
    r = record or describe()
    isa = "AVX-512" if r["avx512"] else ("AVX2 (no AVX-512)" if r["avx2"] else "no AVX2")
    line = f"{r['cpu']} x{r['cpu_count']}, {isa}, oneDNN {'on' if r['onednn'] else 'off'}"
    if r.get("onednn_max_cpu_isa"):
        line += f" (ONEDNN_MAX_CPU_ISA={r['onednn_max_cpu_isa']})"
    return line
