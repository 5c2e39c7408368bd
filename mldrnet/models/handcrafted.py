"""The paper's non-CNN baselines as zoo models: hand-crafted features (mldrnet.baselines.features) + a classifier.

A `FeatureModel` is an `nn.Module` so that everything built for the CNNs works for it unchanged: `bench train`
(its training hooks, mldrnet.training.hooks, replace the epochs: no epochs, then the features of the training
and validation splits and the classifier fitted on them), the checkpoint (`best.pt`, loaded with
`weights_only=True`), the torch engine, `bench predict` and the compare rows. Its input is the evaluation tensor
every engine gets (the checkpoint's preprocessing: centre crop, ImageNet normalization), turned back into RGB uint8
before extraction, so a row of `bench compare` times the whole pipeline: feature extraction plus classifier, per
image. It has no ONNX or TensorRT form (the extractors are numpy / scikit-image / OpenCV code): its zoo entry offers
the torch format only.

Classifiers, all scikit-learn estimators (none is ever pickled: the checkpoint's extra state holds the skops bytes
as a uint8 tensor, and loading rebuilds only an explicit list of trusted types, mldrnet.baselines.classical.saving):
- `svm`: standardised features and an SVC, kernel (linear, RBF) and C chosen by 3-fold cross-validation on the
  training split (Machajdik, Zhao);
- `mil`: Rao's 21 blocks as the instances of a bag (one row per image), mi-SVM with max-pooled instance scores
  (mldrnet.baselines.classical.mil);
- the MART methods of mldrnet.baselines.classical (`tsvm`, `lmc`, `nlmc`, `lasso`, `group-lasso`) for two classes;
  the transductive ones see the test split's features as unlabelled rows (label -1) while fitting, as in the
  paper's protocol.
The estimators raise ValueError; what a user can cause or fix is turned into a one-line BenchError here.

Features are extracted once per image file and cached under results/features/ (mldrnet.io.layout), keyed by the
file's content hash, the method's VERSION and the preprocessing; extraction runs in worker processes.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mldrnet.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io import layout
from mldrnet.models.registry import register

log = logging.getLogger(__name__)

SVM_GRID = {"svc__kernel": ["linear", "rbf"], "svc__C": [0.1, 1.0, 10.0]}
ABSENT_CLASS_SCORE = -1e4  # a class the classifier never saw in training is never predicted
PARALLEL_FROM = 64  # images: below this, extracting in-process is faster than starting workers


@dataclass(frozen=True)
class FeatureSpec:
    method: str  # a mldrnet.baselines.features method: machajdik | zhao | rao
    groups: tuple[str, ...] | None = None  # the method's groups to use; None: all
    classifier: str = "svm"  # svm | mil | a mldrnet.baselines.classical method

    @property
    def cache_key(self) -> str:
        from mldrnet.baselines.features import method

        groups = "all" if self.groups is None else "+".join(self.groups)
        view = "instances" if self.classifier == "mil" else groups
        return f"{self.method}-{view}-v{method(self.method).VERSION}"

    @property
    def transductive(self) -> bool:
        """Whether the classifier fits on the unlabelled test features too (tsvm, lmc, nlmc)."""
        from mldrnet.baselines.classical import TRANSDUCTIVE

        return self.classifier in TRANSDUCTIVE


def image_features(spec: FeatureSpec, image: np.ndarray) -> np.ndarray:
    """RGB uint8 -> the model's feature vector (for `mil`: the bag's instances, flattened)."""
    from mldrnet.baselines.features import method

    mod = method(spec.method)
    if spec.classifier == "mil":
        return mod.instances(image, mod.default_codebook()).ravel()
    groups = mod.extract(image)
    names = spec.groups or tuple(mod.GROUPS)
    return np.concatenate([np.asarray(groups[g], dtype=np.float64).ravel() for g in names])


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) ImageNet-normalized -> (B, H, W, 3) RGB uint8: the image the evaluation transform made."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    rgb = (batch.detach().float().cpu() * std + mean).clamp(0, 1) * 255
    return rgb.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


# --- classifiers, saved with skops -------------------------------------------------------------------------


def _group_indices(spec: FeatureSpec) -> list[list[int]]:
    """Feature groups for the group lasso: the method's named features grouped by their first word (hue_*,
    itten_*, wang_*, lines_*, ...), within the groups the model uses."""
    from mldrnet.baselines.features import method

    names = getattr(method(spec.method), "FEATURE_NAMES", None)
    if names is None:
        raise BenchError(f"{spec.method} names no features: group-lasso needs named features")
    flat = [n for g in (spec.groups or tuple(names)) for n in names[g]]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(flat):
        groups.setdefault(name.split("_")[0], []).append(i)
    return list(groups.values())


def _one_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0].rstrip(".")


def _fit_svm(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC(decision_function_shape="ovr", random_state=seed))])
    folds = min(3, int(np.bincount(y).min())) if len(y) else 0
    if folds < 2:
        return pipe.set_params(svc__kernel="rbf", svc__C=1.0).fit(x, y)
    search = GridSearchCV(pipe, SVM_GRID, cv=StratifiedKFold(folds, shuffle=True, random_state=seed), n_jobs=1)
    return search.fit(x, y).best_estimator_


def _estimator(spec: FeatureSpec, y: np.ndarray, seed: int) -> Any:
    """The unfitted estimator of a `mil` or MART classifier."""
    if spec.classifier == "mil":
        from mldrnet.baselines.classical import MaxPoolMIL
        from mldrnet.baselines.features.rao import N_BLOCKS

        # at most 4 relabelling rounds per class: on the synthetic set rounds 5-10 cost minutes and changed little
        return MaxPoolMIL(n_instances=N_BLOCKS, max_iter=4, random_state=seed)
    from mldrnet.baselines.classical import make

    if len(np.unique(y)) != 2:
        raise BenchError(
            f"{spec.classifier} is a two-class method (MART: positive/negative): train it on a binary "
            "dataset such as --dataset mart"
        )
    return make(spec.classifier, **({"groups": _group_indices(spec)} if spec.classifier == "group-lasso" else {}))


def fit_classifier(spec: FeatureSpec, x: np.ndarray, y: np.ndarray, x_unlabeled: np.ndarray, seed: int) -> Any:
    """The classifier fitted on (x, y); the transductive ones also see `x_unlabeled` (as rows labelled -1)."""
    if spec.classifier == "svm":
        return _fit_svm(x, y, seed)
    model = _estimator(spec, y, seed)
    if spec.transductive:
        x, y = np.vstack([x, x_unlabeled]), np.concatenate([y, np.full(len(x_unlabeled), -1, dtype=y.dtype)])
    try:
        return model.fit(x, y)
    except ValueError as err:
        raise BenchError(
            f"{spec.classifier} could not be fitted on the {len(x)} {spec.method} feature rows: {_one_line(err)}"
        ) from err


def classifier_scores(spec: FeatureSpec, clf: Any, x: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, num_classes) scores, larger = more likely, whatever the classifier's own output shape."""
    scores = clf.decision_function(x)
    classes = np.asarray(getattr(clf, "classes_", np.arange(num_classes))).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:  # a binary decision value: positive means classes[1]
        scores = np.stack([-scores, scores], axis=1)
    out = np.full((len(x), num_classes), ABSENT_CLASS_SCORE)
    out[:, classes] = scores
    return out


def _saved_type(spec: FeatureSpec) -> type:
    """The estimator class a checkpoint of `spec` must hold (alone or after a StandardScaler)."""
    from mldrnet.baselines.classical import MaxPoolMIL, make

    if spec.classifier == "svm":
        from sklearn.svm import SVC

        return SVC
    if spec.classifier == "mil":
        return MaxPoolMIL
    built = make(spec.classifier)
    return type(built.steps[-1][1] if hasattr(built, "steps") else built)


def save_classifier(spec: FeatureSpec, clf: Any) -> tuple[dict[str, np.ndarray], dict]:
    """({"skops": uint8 bytes}, {"kind": "skops"}) of the fitted classifier."""
    from mldrnet.baselines.classical import saving

    try:
        data = saving.dumps(clf)
    except ValueError as err:
        raise BenchError(
            f"the {spec.method} {spec.classifier} classifier cannot be saved: {_one_line(err)}; train the model first"
        ) from err
    return {"skops": np.frombuffer(data, dtype=np.uint8).copy()}, {"kind": "skops"}


def load_classifier(spec: FeatureSpec, arrays: dict[str, np.ndarray], meta: dict) -> Any:
    """The classifier `save_classifier` stored; a one-line BenchError for anything else."""
    from sklearn.svm import SVC

    from mldrnet.baselines.classical import saving

    what = f"saved {spec.method} {spec.classifier} classifier"
    if meta.get("kind") != "skops" or "skops" not in arrays:
        raise BenchError(
            f"the {what} is in a format bench no longer reads (not skops): retrain the model with bench train"
        )
    trusted = saving.trusted_types((SVC,) if spec.classifier == "svm" else ())
    try:
        return saving.loads(arrays["skops"].tobytes(), _saved_type(spec), trusted)
    except ValueError as err:
        raise BenchError(f"the {what} does not load: {_one_line(err)}; retrain the model with bench train") from err


class FeatureModel(nn.Module):
    """Hand-crafted features + a fitted classifier; forward: (B, 3, H, W) evaluation tensor -> (B, K) scores."""

    def __init__(
        self, num_classes: int = 8, method: str = "machajdik", groups: list[str] | None = None, classifier: str = "svm"
    ):
        super().__init__()
        self.num_classes = num_classes
        self.spec = FeatureSpec(method, tuple(groups) if groups else None, classifier)
        self.clf = None

    def features(self, batch: torch.Tensor) -> np.ndarray:
        return np.stack([image_features(self.spec, image) for image in to_uint8(batch)])

    def fit_features(self, x: np.ndarray, y: np.ndarray, x_unlabeled: np.ndarray, seed: int = 0) -> None:
        self.clf = fit_classifier(self.spec, x, y, x_unlabeled, seed)

    def scores(self, x: np.ndarray) -> np.ndarray:
        if self.clf is None:
            raise BenchError(f"the {self.spec.method} classifier is not fitted: train the model first")
        return classifier_scores(self.spec, self.clf, x, self.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.scores(self.features(x)), dtype=torch.float32)

    def get_extra_state(self) -> dict:
        if self.clf is None:
            return {}
        arrays, meta = save_classifier(self.spec, self.clf)
        return {
            "arrays": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()},
            "meta": json.dumps(meta),
            "spec": json.dumps(self._spec_dict()),
        }

    def _spec_dict(self) -> dict:
        return {
            "method": self.spec.method,
            "groups": list(self.spec.groups or []),
            "classifier": self.spec.classifier,
            "num_classes": self.num_classes,
        }

    def set_extra_state(self, state: dict) -> None:
        if not state:
            self.clf = None
            return
        if not isinstance(state, dict):
            raise BenchError(f"the saved {self.spec.method} classifier is not an object: retrain the model")
        saved = _saved_json(state, "spec", self.spec.method)
        if saved != self._spec_dict():  # e.g. a zhao checkpoint's classifier loaded into machajdik
            raise BenchError(
                f"the saved classifier is for {saved or 'an unknown model'}, not {self._spec_dict()}: "
                "load the checkpoint with the model it was trained as"
            )
        raw = state.get("arrays", {})
        if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
            raise BenchError(f"the saved {self.spec.method} classifier's arrays are damaged: retrain the model")
        arrays = {k: v.numpy() for k, v in raw.items()}
        self.clf = load_classifier(self.spec, arrays, _saved_json(state, "meta", self.spec.method))


def _saved_json(state: dict, key: str, method: str) -> dict:
    """A JSON object stored as text in a checkpoint's extra state (bounded, like every JSON bench reads)."""
    from mldrnet.io.jsonfile import loads

    text = state.get(key, "{}")
    if not isinstance(text, str):
        raise BenchError(f"the saved {method} classifier's {key} is not JSON text: retrain the model")
    value = loads(text, f"the saved {method} classifier's {key}", max_depth=8, fix="retrain the model")
    if not isinstance(value, dict):
        raise BenchError(f"the saved {method} classifier's {key} is not a JSON object: retrain the model")
    return value


# --- extraction over a split, cached and parallel ---------------------------------------------------------


def _file_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def _extract_files(spec: FeatureSpec, prep: Preprocessing, paths: list[str]) -> list[np.ndarray | None]:
    """Decode + evaluation transform + features, per file (None for an unreadable one). Runs in workers."""
    from mldrnet.data import UnreadableImage, decode_image
    from mldrnet.data.transforms import eval_transform

    transform = eval_transform(prep)
    out: list[np.ndarray | None] = []
    for path in paths:
        try:
            tensor = transform(decode_image(path, min_size=prep.resize_to))
        except UnreadableImage:
            out.append(None)
            continue
        out.append(image_features(spec, to_uint8(tensor[None])[0]))
    return out


def feature_size(spec: FeatureSpec) -> int | None:
    """Length of the model's feature vector (None for `mil`, whose bags vary)."""
    from mldrnet.baselines.features import method

    if spec.classifier == "mil":
        return None
    mod = method(spec.method)
    return sum(mod.GROUPS[g] for g in (spec.groups or tuple(mod.GROUPS)))


class FeatureCache:
    """results/features/<method key>-c<crop>-r<resize>/<sha1[:2]>/<sha1>.npy: one vector per image file.

    A cached entry is never trusted: one that is not a one-dimensional real float vector of finite values and of
    the model's feature length (a damaged, truncated or planted file: NaN, complex, another shape, a pickle) is
    discarded, deleted and computed again, so that it cannot break every later run."""

    def __init__(self, results_root: Path, spec: FeatureSpec, prep: Preprocessing):
        self.dir = layout.feature_cache_dir(results_root, f"{spec.cache_key}-c{prep.crop}-r{prep.resize_to}")
        self.size = feature_size(spec)

    def path(self, digest: str) -> Path:
        return self.dir / digest[:2] / f"{digest}.npy"

    def valid(self, v: object) -> bool:
        return (
            isinstance(v, np.ndarray)
            and v.ndim == 1
            and v.dtype.kind == "f"
            and v.size > 0
            and (self.size is None or v.size == self.size)
            and bool(np.isfinite(v).all())
        )

    def get(self, digest: str) -> np.ndarray | None:
        path = self.path(digest)
        try:
            vector = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):  # unreadable, truncated, or an object (pickle) array
            vector = None
        if self.valid(vector):
            return vector
        log.warning(f"feature cache entry {path} is damaged (not a finite vector of this model's size): recomputing it")
        path.unlink(missing_ok=True)
        return None

    def put(self, digest: str, vector: np.ndarray) -> None:
        from mldrnet.io.atomic import atomic_open

        with atomic_open(self.path(digest)) as f:
            buf = io.BytesIO()
            np.save(buf, vector, allow_pickle=False)
            f.write(buf.getvalue())


def split_features(
    spec: FeatureSpec,
    prep: Preprocessing,
    samples: list[tuple[str, int]],
    cache: FeatureCache,
    workers: int,
    progress=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of the readable samples; cached vectors are reused, the others extracted in parallel."""
    digests = [_file_hash(p) for p, _ in samples]
    vectors: list[np.ndarray | None] = [cache.get(d) for d in digests]
    todo = [i for i, v in enumerate(vectors) if v is None]
    started = time.perf_counter()
    if progress:
        progress.start_epoch(0, len(todo))
    chunks = [todo[i : i + 16] for i in range(0, len(todo), 16)]
    n_workers = min(workers or os.cpu_count() or 1, len(chunks))
    done = 0

    def take(chunk: list[int], found: list[np.ndarray | None]) -> None:
        nonlocal done
        for i, v in zip(chunk, found):
            vectors[i] = v
            if v is not None:
                cache.put(digests[i], v)
        done += len(chunk)
        if progress:
            progress.batch(loss=float("nan"), images_per_s=done / max(time.perf_counter() - started, 1e-9))

    if len(todo) >= PARALLEL_FROM and n_workers > 1:  # spawn: a forked torch process may hang in OpenMP
        with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
            jobs = [
                (chunk, pool.submit(_extract_files, spec, prep, [samples[i][0] for i in chunk])) for chunk in chunks
            ]
            for chunk, job in jobs:
                take(chunk, job.result())
    else:
        for chunk in chunks:
            take(chunk, _extract_files(spec, prep, [samples[i][0] for i in chunk]))
    keep = [i for i, v in enumerate(vectors) if v is not None]
    if not keep:
        raise BenchError(f"none of the {len(samples)} images could be read for {spec.method} features")
    return np.stack([v for v in vectors if v is not None]), np.asarray([samples[i][1] for i in keep])


# --- the paper's non-CNN baselines, registered (trained by mldrnet.training.hooks' feature hooks) ---------------


def _register_features(
    name: str,
    family: str,
    acc: float | None,
    description: str,
    method: str,
    classifier: str,
    groups: tuple[str, ...] | None = None,
) -> None:
    def build(
        num_classes: int = 8, method: str = method, groups: Sequence[str] | None = groups, classifier: str = classifier
    ) -> nn.Module:
        return FeatureModel(num_classes, method, list(groups) if groups else None, classifier)

    # eager PyTorch runs them (numpy / scikit-image / OpenCV inside): no ONNX or TensorRT form
    register(name, family, acc, description, formats=("torch",))(build)


_register_features(
    "machajdik", "hand-crafted", None, "Machajdik & Hanbury 2010 features (116-d) + SVM (Table III)", "machajdik", "svm"
)
_register_features(
    "zhao", "hand-crafted", 46.52, "Zhao et al. 2014 principles-of-art features + SVM (Table III)", "zhao", "svm"
)
_register_features("rao", "hand-crafted", 51.67, "Rao et al. 2016 multi-scale blocks, mi-SVM (Table III)", "rao", "mil")
# Table IV (MART, positive/negative): colour and composition features of abstract paintings, two classes
for _name, _what in {
    "tsvm": "transductive SVM",
    "lmc": "linear matrix completion",
    "nlmc": "non-linear (RBF) matrix completion",
    "lasso": "Lasso",
    "group-lasso": "sparse group lasso",
}.items():
    _register_features(
        _name,
        "mart",
        None,
        f"MART baseline: {_what} on colour + composition features (Table IV)",
        "machajdik",
        _name,
        ("colour", "composition"),
    )
