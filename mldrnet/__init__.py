"""MldrNet, its baselines and everything needed to train and evaluate them, one subpackage per concern. The bottom
layer: imports neither `engines` nor `bench`. Inside, each concern may import only the ones before it
(tests/test_architecture.py checks it):

    errors.py      the one exception type (BenchError) and one-line messages
    io/            atomic writes, locks, the results layout, provenance
    data/          transforms, datasets/ (one loader per format), synth/, splits, decoding, the loader, evalset
    checkpoint.py  the checkpoint file format and its metadata (nothing else)
    baselines/     hand-crafted features/ and classical/ estimators (no torch)
    models/        the registry (imports no model) and the models, which register themselves; load(ckpt)
    training/      the loop, its config and profiles, hooks per model, distributed
    evaluation/    metrics and the small-set protocol
"""

EMOTIONS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
"""The paper's 8 emotion categories in the harness's canonical order (FI's folder names, alphabetical)."""
