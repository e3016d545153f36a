"""Video decoding, clip sampling, evaluation transforms and training augmentation.

See ../shared/spec/reference-protocol.md, sections "Clips" and "Training augmentation".
"""
