"""The data layer: dataset registry and per-format loaders, fixed splits, robust decoding, the synthetic
default dataset and the batch loader. Everything that reads images (train, compare, predict, engines) uses it.

    prepare_data(DataConfig(...), results_root) -> PreparedData   train / val / test (path, label) lists
    make_loader(samples, preprocessing, train=...)                 batches of (images, labels, n_unreadable)
    decode_image(path)                                             RGB PIL image or UnreadableImage
    DATASETS                                                       name -> DatasetSpec
"""

from mldrnet.data.decode import UnreadableImage, decode_image
from mldrnet.data.loader import make_loader
from mldrnet.data.prepare import DataConfig, PreparedData, prepare_data
from mldrnet.data.registry import DATASETS, get_spec

__all__ = [
    "DATASETS",
    "DataConfig",
    "PreparedData",
    "UnreadableImage",
    "decode_image",
    "get_spec",
    "make_loader",
    "prepare_data",
]
