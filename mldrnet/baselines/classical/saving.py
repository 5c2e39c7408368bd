"""Fitted estimators as bytes with skops (skops.io), never pickle: `dumps` refuses an unfitted estimator; `loads`
rebuilds only the types of an explicit trusted list (full dotted names), and checks that what it rebuilt is the
expected fitted estimator, alone or behind a StandardScaler in a Pipeline. Every refusal is a ValueError with a
one-line message; the caller (mldrnet.models.handcrafted) words it for the user."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from mldrnet.baselines.classical.codebook import Codebook
from mldrnet.baselines.classical.group_lasso import LassoClassifier, SparseGroupLasso
from mldrnet.baselines.classical.matrix_completion import MatrixCompletion
from mldrnet.baselines.classical.mil import MaxPoolMIL
from mldrnet.baselines.classical.tsvm import TransductiveSVM

OWN_TYPES = (TransductiveSVM, MatrixCompletion, LassoClassifier, SparseGroupLasso, MaxPoolMIL, Codebook)
# what they hold besides builtins: the Pipeline and StandardScaler of `make`, numpy arrays, dtypes and scalars
HELD_TYPES = (Pipeline, StandardScaler, np.ndarray, np.dtype, np.float64, np.float32, np.int64, np.bool_)


def type_name(cls: type) -> str:
    """The full dotted name skops knows a type by, e.g. 'mldrnet.baselines.classical.tsvm.TransductiveSVM'."""
    return f"{cls.__module__}.{cls.__qualname__}"


def trusted_types(extra: Iterable[type] = ()) -> list[str]:
    """Our estimator classes and the scikit-learn / numpy types they hold (plus `extra`), by dotted name."""
    return sorted({type_name(cls) for cls in (*OWN_TYPES, *HELD_TYPES, *extra)})


def dumps(estimator: Any) -> bytes:
    """The fitted estimator (or Pipeline) as skops bytes; NotFittedError (a ValueError) if it is not fitted."""
    check_is_fitted(estimator)
    return sio.dumps(estimator)


def _final(obj: Any, expected: type) -> Any:
    """The estimator `obj` holds if it is an `expected`, alone or as Pipeline(StandardScaler, expected)."""
    if isinstance(obj, Pipeline):
        steps = [step for _, step in obj.steps]
        if len(steps) == 2 and type(steps[0]) is StandardScaler and type(steps[1]) is expected:
            return steps[1]
    elif type(obj) is expected:
        return obj
    raise ValueError(f"it holds a {_describe(obj)}, not a {expected.__name__}")


def _describe(obj: Any) -> str:
    if isinstance(obj, Pipeline):
        return "Pipeline of " + " + ".join(type(step).__name__ for _, step in obj.steps)
    return type(obj).__name__


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [""])[0][:200]


def loads(data: bytes, expected: type, trusted: list[str]) -> Any:
    """Rebuild a fitted `expected` (alone or after a StandardScaler) from skops bytes, trusting only `trusted`."""
    if not data:
        raise ValueError("it is empty")
    try:
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
    except Exception as err:  # any failure to read the archive means it is not a skops file
        raise ValueError(f"it is not a readable skops file ({type(err).__name__})") from err
    if untrusted:
        raise ValueError(f"it holds types that are not trusted: {', '.join(untrusted)}")
    try:
        obj = sio.loads(data, trusted=trusted)
    except Exception as err:
        raise ValueError(f"skops could not rebuild it ({type(err).__name__}: {_first_line(err)})") from err
    check_is_fitted(_final(obj, expected))
    return obj
