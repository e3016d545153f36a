"""The frozen-encoder stage: the clip stream (encode each clip once, feed every consumer) and the
sharded feature store for the cached mode and later analysis."""
