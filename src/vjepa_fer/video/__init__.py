"""Video decoding, clip sampling, evaluation transforms and training augmentation.

See docs/protocol.md, sections "Clips" and "Training augmentation".
"""
