"""Helper for test_multi_worker.py: one worker of a MultiWorkerMirroredStrategy cluster.

    TF_CONFIG='{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": I}}' \\
        python tests/multi_worker_main.py CONFIG_JSON WORKDIR

Trains the config (trainer.strategy=multi_worker) and prints one JSON line: this worker's role,
replicas, final step and whether every metric is finite.
"""

import json
import math
import sys

from idcg_tf import config
from idcg_tf.experiment import make_trainer

cfg = config.from_dict(json.loads(sys.argv[1]))
trainer = make_trainer(cfg, sys.argv[2], log=lambda line: print(line, file=sys.stderr, flush=True))
metrics = trainer.train(samples=())
print(
    json.dumps(
        {
            "chief": trainer.chief,
            "replicas": trainer.strategy.num_replicas_in_sync,
            "step": trainer.current_step,
            "finite": bool(metrics) and all(math.isfinite(v) for v in metrics.values()),
        }
    ),
    flush=True,
)
