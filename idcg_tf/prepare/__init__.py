"""Offline preparation: raw images and videos -> face crops and clips -> TFRecord shards.

Sources and media reading (`sources`, `media`, `demo_media`), face detection and tracks
(`faces`, `video_faces`, `crop`), the split (`split`), the per-input work in worker processes
(`units`, `pool`), the shards and the manifest (`shards`, `manifest`); `pipeline.prepare` runs
it all (what `tools/prepare_data.py` does). Training reads the result through `idcg_tf.data`.
"""
