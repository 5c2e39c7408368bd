"""MldrNet, its baselines and everything needed to train and evaluate them."""

EMOTIONS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
"""The paper's 8 emotion categories in the harness's canonical order (FI's folder names, alphabetical)."""
