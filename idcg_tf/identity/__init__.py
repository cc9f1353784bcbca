"""Face identity: a frozen FaceNet embedder for Model3's identity loss and for evaluation."""

from idcg_tf.identity.facenet import FaceNetEmbedder, facenet_distance, load_facenet

__all__ = ["FaceNetEmbedder", "facenet_distance", "load_facenet"]
