"""Unconditional video generation (paper Sec. 4.2, Fig. 3): ours vs VideoGAN one/two-stream.

A config with `task.type: generation` trains a noise-to-clip generator against an adversary on
`task.data.train_clips` (the task: `idcg_tf.generation.task`). Networks: `generation.networks`;
sampling and writing clips: `generation.sampling`; loading a trained generator:
`generation.task.load_generator`; metrics: `generation.metrics`.
"""

from idcg_tf.generation.networks import GenerationNetworks, build_generation_networks
from idcg_tf.generation.sampling import generate_clips, sample_noise, save_clip
from idcg_tf.generation.task import load_generator
from idcg_tf.training.task import checkpoint_variables
from idcg_tf.visualize import SHEET_FRAMES, comparison_sheet, generation_sheet

__all__ = [
    "GenerationNetworks",
    "build_generation_networks",
    "checkpoint_variables",
    "load_generator",
    "sample_noise",
    "generate_clips",
    "generation_sheet",
    "comparison_sheet",
    "save_clip",
    "SHEET_FRAMES",
]
