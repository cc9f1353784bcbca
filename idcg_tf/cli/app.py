"""A local web page over an exported model: drop a photo, get its clip; drop a video, get its
photo; each with the face crop used and the FaceNet distance between input and translation.

    idcg-app --model exported_models/NAME [--backend onnx|tf|litert|...] [--host 127.0.0.1]
        [--port 7860] [--fps 8]

Needs the app extra (pip install 'idcg-tf[app]'; in a clone, make install-app). Serves until
Ctrl-C or SIGTERM; the page's files live in a temporary folder that is removed when it stops.
"""

from __future__ import annotations

import argparse
import signal
import tempfile

from idcg_tf.cli import console_script
from idcg_tf.deploy.exported_model import BACKENDS


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) ends the app like Ctrl-C: server closed, files gone."""

    def stop(signum, frame):
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, stop)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="exported model folder (export.json)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="as idcg-translate: default onnx when the export has .onnx files, else tf",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens the "
        "page to the network)",
    )
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--fps", type=int, default=8, help="frame rate of the clips")
    args = parser.parse_args(argv)

    from idcg_tf.errors import UserError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be in 1-65535, got {args.port}")
    try:
        from idcg_tf.deploy import web_app
    except ImportError as error:
        raise UserError(
            f"idcg-app needs Gradio ({error}): pip install 'idcg-tf[app]' "
            "(in a clone: make install-app)"
        ) from None
    from idcg_tf.deploy.app_backend import AppBackend
    from idcg_tf.deploy.exported_model import ExportedModel
    from idcg_tf.identity.facenet import FaceNetEmbedder
    from idcg_tf.identity.scoring import compiled_embedder

    model = ExportedModel(args.model, args.backend)
    embed = compiled_embedder(FaceNetEmbedder())
    _stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="idcg-app-") as folder:
        backend = AppBackend(model, embed, folder, fps=args.fps)
        web_app.serve(
            backend,
            f"IdCycleGAN: {model.model_dir.name}",
            args.host,
            args.port,
            allowed=folder,
        )
    return 0


cli = console_script(main)  # the `idcg-app` console script
