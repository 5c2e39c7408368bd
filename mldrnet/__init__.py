"""MldrNet, its baselines and everything needed to train and evaluate them: models, zoo, data, training, metrics,
checkpoints and the results layout. The bottom layer: imports neither `engines` nor `bench`."""

EMOTIONS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
"""The paper's 8 emotion categories in the harness's canonical order (FI's folder names, alphabetical)."""
