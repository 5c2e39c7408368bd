"""Hand-crafted image features of the paper's non-CNN baselines (Table III, Figs. 8-10): one module per method.

Holds numpy / scikit-image / OpenCV code only; may import `mldrnet.errors` and nothing from `engines` or `bench`.
Each method module exposes

    NAME: str                    the zoo / CLI name ("machajdik", "zhao", "rao")
    VERSION: int                 bumped whenever its output changes (the on-disk feature cache is keyed on it)
    GROUPS: dict[str, int]       feature group -> dimensions, in output order
    extract(image) -> dict[str, np.ndarray]   RGB uint8 (H, W, 3) -> group -> float64 vector of GROUPS[group]

and `extract_vector(name, image)` concatenates the groups in order. Images are first resized to about 200,000
pixels (`image.resize_to_pixels`), as Machajdik & Hanbury did. `image` (input preparation) and `colour` (the RYB
hue map, colour names and Lab conversion of Machajdik's and Zhao's features) hold what the methods share.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from mldrnet.data.decode import UnreadableImage, decode_image
from mldrnet.errors import BenchError

METHODS = {
    "machajdik": "mldrnet.baselines.features.machajdik",
    "zhao": "mldrnet.baselines.features.zhao",
    "rao": "mldrnet.baselines.features.rao",
}


def method(name: str) -> ModuleType:
    """The method's module, imported on first use (scikit-image and OpenCV are slow to import)."""
    if name not in METHODS:
        raise BenchError(f"unknown feature method {name!r}: choose one of {', '.join(METHODS)}")
    return importlib.import_module(METHODS[name])


def extract_vector(name: str, image: np.ndarray) -> np.ndarray:
    """All of the method's groups, concatenated in GROUPS order: (sum(GROUPS.values()),) float64."""
    mod = method(name)
    groups = mod.extract(image)
    return np.concatenate([np.asarray(groups[g], dtype=np.float64).ravel() for g in mod.GROUPS])


def extract_file(name: str, path) -> dict[str, dict[str, float]]:
    """One image file's features by group, each feature named (the method's FEATURE_NAMES, else group[i]).
    An unreadable file is a BenchError naming it (decoded like the data loader does)."""
    mod = method(name)
    try:
        image = decode_image(path)
    except UnreadableImage as e:
        raise BenchError(f"cannot extract features from {e}") from e
    groups = mod.extract(np.asarray(image.convert("RGB")))
    names = getattr(mod, "FEATURE_NAMES", {})
    return {
        g: dict(
            zip(
                names.get(g) or [f"{g}[{i}]" for i in range(mod.GROUPS[g])],
                (float(v) for v in np.asarray(groups[g]).ravel()),
            )
        )
        for g in mod.GROUPS
    }
