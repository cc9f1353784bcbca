"""Face identity: a frozen FaceNet embedder for Model3's identity loss, and the FaceNet score
of translations (Table 1) for evaluation and training-time curves."""

from idcg_tf.identity.facenet import FaceNetEmbedder, facenet_distance, load_facenet
from idcg_tf.identity.scoring import compiled_embedder, facenet_scores

__all__ = [
    "FaceNetEmbedder",
    "compiled_embedder",
    "facenet_distance",
    "facenet_scores",
    "load_facenet",
]
