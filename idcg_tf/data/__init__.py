"""Data: the TFRecord schema, the tf.data readers, and the tools that make the records."""
