"""Training input: the TFRecord schema, the tf.data readers, synthetic records for tests.
`idcg_tf.prepare` makes the records from raw images and videos."""
