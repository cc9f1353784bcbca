"""idcg_tf: Identity-aware CycleGAN (IdCycleGAN), unpaired face translation between still
images and videos, in TensorFlow 2 / Keras 3.

Reference: Z. Huang, B. Kratzwald, D. P. Paudel, J. Wu, L. Van Gool, "Face Translation between
Images and Videos using Identity-aware CycleGAN", arXiv:1712.00971.
"""

__version__ = "0.1.0"

from idcg_tf import allocator as _allocator
from idcg_tf import cpu as _cpu

# Before anything imports TensorFlow: its oneDNN kernels on AVX2 CPUs too (see idcg_tf/cpu.py;
# TF_ENABLE_ONEDNN_OPTS=0 keeps TF's own), and where jemalloc is in the process, TF's tensors
# from it (idcg_tf/allocator.py).
_cpu.enable_onednn()
_allocator.configure_tensorflow()
