"""The bounds every value from the user or from a file is held to: the CLI's options (bench.cli.options) and the
readers of checkpoints and engine metadata use the same numbers, so a file cannot carry a value the command line
would refuse (a crop of 0 or 100000, a std of 0). No torch here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mldrnet.errors import BenchError

MIN_CROP, MAX_CROP = 32, 1024  # px of a model's input (a model may need more: its zoo entry's min_crop)
MAX_RESIZE = 4 * MAX_CROP  # px of the shorter side before cropping
MAX_CLASSES = 1000


def check_crop(crop: object, where: str, minimum: int = MIN_CROP) -> int:
    """`crop` as an int within [minimum, MAX_CROP], else a BenchError naming `where`."""
    if isinstance(crop, bool) or not isinstance(crop, int) or not minimum <= crop <= MAX_CROP:
        raise BenchError(f"{where} is {crop!r}: a crop must be an integer from {minimum} to {MAX_CROP} px")
    return crop


def check_preprocessing(crop: object, resize: object, mean: object, std: object, where: str) -> None:
    """The values of a stored Preprocessing, held to the CLI's bounds: crop in range, resize >= crop, three finite
    means and three finite positive standard deviations."""
    size = check_crop(crop, f"{where}: preprocessing.crop")
    if isinstance(resize, bool) or not isinstance(resize, int) or not size <= resize <= MAX_RESIZE:
        raise BenchError(
            f"{where}: preprocessing.resize is {resize!r}: it must be an integer from the crop ({size}) to "
            f"{MAX_RESIZE} px"
        )
    for name, values, positive in (("mean", mean, False), ("std", std, True)):
        numbers = _three_numbers(values)
        if numbers is None or positive and min(numbers) <= 0:
            rule = "three finite numbers above 0" if positive else "three finite numbers"
            raise BenchError(f"{where}: preprocessing.{name} is {_short(values)}: it must be {rule}")


def _three_numbers(values: object) -> list[float] | None:
    """`values` as three finite numbers, or None."""
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) != 3:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_classes(classes: object, where: str) -> tuple[str, ...]:
    """Class names in label order: 2..MAX_CLASSES non-empty strings, none twice (repeated names collapse a
    confusion table and make two labels one)."""
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise BenchError(f"{where}: classes is {_short(classes)}, not a list of class names")
    names = tuple(classes)
    if not 2 <= len(names) <= MAX_CLASSES:
        raise BenchError(f"{where}: {len(names)} classes; a classifier needs 2 to {MAX_CLASSES}")
    bad = next((c for c in names if not isinstance(c, str) or not c.strip()), None)
    if bad is not None or any(not isinstance(c, str) for c in names):
        raise BenchError(f"{where}: class name {_short(bad)} is not a non-empty string")
    seen: set[str] = set()
    for c in names:
        if c in seen:
            raise BenchError(
                f"{where}: class {_short(c)} is named twice in {_short(list(names))}: each label needs its own name"
            )
        seen.add(c)
    return names
