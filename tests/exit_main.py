"""A user's script: train, evaluate, sample and (translation) export with the library, in one
process, then print a last line. tests/test_exit.py times how long the process takes to end
after that line (a tf.data iterator left to interpreter shutdown can hang it for good).

    python tests/exit_main.py translation|generation WORKDIR
"""

import sys
import time
from pathlib import Path

import idcg_tf  # noqa: F401  (before TensorFlow, as the tools do)

ROOT = Path(__file__).resolve().parents[1]


def synthetic(work: Path) -> list[str]:
    from idcg_tf.data.synthetic import write_synthetic

    train = write_synthetic(work, resolution=32, frames=8, num_images=8, num_clips=4, split="train")
    test = write_synthetic(
        work, resolution=32, frames=8, num_images=4, num_clips=4, split="test", seed=1, shards=1
    )
    return [
        f"task.data.train_images={train['images']}",
        f"task.data.train_clips={train['clips']}",
        f"task.data.test_images={test['images']}",
        f"task.data.test_clips={test['clips']}",
    ]


def translation(work: Path) -> None:
    import numpy as np

    from idcg_tf import config, experiment
    from idcg_tf.deploy.export import export_run
    from idcg_tf.deploy.exported_model import ExportedModel
    from idcg_tf.evaluation.evaluate import evaluate_runs
    from idcg_tf.evaluation.options import EvalOptions

    steps = ["trainer.steps=2", "trainer.n_critic=1", "trainer.checkpoint_every=1"]
    cfg = config.load(ROOT / "configs" / "tiny.yaml", synthetic(work / "data") + steps)
    experiment.train(cfg, work / "run")  # sample sheets on the way
    options = EvalOptions(samples=2, curve=True, sheet_samples=1, embed_batch=8)
    evaluate_runs([(work / "run", None)], work / "eval", options, log=print)
    export_run(work / "run", "tiny", work / "exported", log=print)
    model = ExportedModel(work / "exported" / "tiny", backend="tf")
    clip = model.image_to_video(np.zeros([1, 32, 32, 3], np.float32))
    print(f"exported G_Y made a clip of shape {clip.shape}")


def generation(work: Path) -> None:
    from idcg_tf import config, experiment
    from idcg_tf.generation import generate_clips, load_generator, metrics

    # The tiny generation run of configs/gen_wgan_one_stream.yaml's header.
    data = [d for d in synthetic(work / "data") if "_images=" not in d]
    steps = ["trainer.steps=2", "trainer.n_critic=1", "trainer.checkpoint_every=1"]
    cfg = config.load(ROOT / "configs" / "tiny_generation.yaml", data + steps)
    experiment.train(cfg, work / "run")
    print(metrics.evaluate_generation(work / "run", num=2, frame_step=4))
    _, generator, _ = load_generator(work / "run")
    print(f"sampled clips of shape {generate_clips(generator, 2).shape}")


if __name__ == "__main__":
    task, work = sys.argv[1], Path(sys.argv[2])
    {"translation": translation, "generation": generation}[task](work)
    print(f"LAST LINE {time.time():.3f}", flush=True)
