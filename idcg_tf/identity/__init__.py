"""Face identity: a frozen FaceNet embedder for Model3's identity loss and for evaluation."""

from idcg_tf.identity.facenet import FaceNetEmbedder, facenet_distance, load_facenet
from idcg_tf.identity.loss import facenet_identity_loss, facenet_identity_loss_from_config

__all__ = ["FaceNetEmbedder", "facenet_distance", "load_facenet", "facenet_identity_loss",
           "facenet_identity_loss_from_config"]
