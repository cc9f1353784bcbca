"""idcg_tf: Identity-aware CycleGAN (IdCycleGAN), unpaired face translation between still
images and videos, in TensorFlow 2 / Keras 3.

Reference: Z. Huang, B. Kratzwald, D. P. Paudel, J. Wu, L. Van Gool, "Face Translation between
Images and Videos using Identity-aware CycleGAN", arXiv:1712.00971.
"""

__version__ = "0.1.0"
