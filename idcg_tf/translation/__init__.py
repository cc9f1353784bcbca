"""Image <-> video face translation (IdCycleGAN Model1/2/3) as a training task."""

from idcg_tf.translation.task import TranslationTask

__all__ = ["TranslationTask"]
