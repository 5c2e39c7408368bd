"""The dataset registry: name -> `DatasetSpec`. One module per on-disk format; `synth` is FI's format with a
generated root (see `synth.py`), so it shares FI's loader and split scheme. The small generated sets
`synth-artphoto`, `synth-abstract`, `synth-iaps` and `synth-mart` (see `synth/sets.py`) are FI's folder layout
too, with their real counterparts' k-fold split schemes; the cue-ablation variants `synth-low`, `synth-mid` and
`synth-high` (see `synth/ablation.py`) have two classes each and FI's split."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from mldrnet.data.base import DatasetSpec
from mldrnet.data.datasets import abstract, artphoto, emoset, emotion6, fi, folder, iaps, mart
from mldrnet.data.synth.params import ABLATIONS
from mldrnet.errors import BenchError

SYNTH = replace(
    fi.SPEC,
    name="synth",
    title="synthetic emotions (built in, generated on first use, FI layout)",
    synth_kind="emotions",
)


def _small_synth(kind: str, real: DatasetSpec, title: str) -> DatasetSpec:
    """A generated stand-in for `real`: its classes and folds, FI's folder layout."""
    name = f"synth-{kind}"
    layout = fi.LAYOUT if real.classes == fi.SPEC.classes else fi.layout_of(real.classes)
    return DatasetSpec(
        name=name,
        title=f"{title} (built in, generated on first use, FI layout)",
        classes=real.classes,
        split=real.split,
        folds=real.folds,
        layout=layout,
        synth_kind=kind,
        scan=partial(fi.scan_folders, dataset=name, classes=real.classes),
    )


def _ablation(kind: str, title: str) -> DatasetSpec:
    """A cue-ablation variant of `synth` (mldrnet.data.synth.ablation): two classes, FI's split and layout."""
    classes = ABLATIONS[kind]
    return replace(
        SYNTH,
        name=f"synth-{kind}",
        title=f"{title} (built in, generated on first use, FI layout)",
        classes=classes,
        layout=fi.layout_of(classes),
        synth_kind=kind,
        scan=partial(fi.scan_folders, dataset=f"synth-{kind}", classes=classes),
    )


SYNTH_SETS = (
    _small_synth("artphoto", artphoto.SPEC, "synthetic ArtPhoto stand-in (807 images, 8 emotions)"),
    _small_synth("abstract", abstract.SPEC, "synthetic Abstract stand-in (228 compositions, 8 emotions)"),
    _small_synth("iaps", iaps.SPEC, "synthetic IAPS-Subset stand-in (395 cluttered scenes, 8 emotions)"),
    _small_synth("mart", mart.SPEC, "synthetic MART stand-in (500 abstract compositions, positive / negative)"),
    _ablation("low", "synth with only the palette (low level) carrying a 2-class label: warm / dark"),
    _ablation("mid", "synth with only the composition (mid level) carrying a 2-class label: centred / off-centre"),
    _ablation("high", "synth with only the shape (high level) carrying a 2-class label: rounded / jagged"),
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        SYNTH,
        fi.SPEC,
        artphoto.SPEC,
        abstract.SPEC,
        iaps.SPEC,
        emotion6.SPEC,
        emoset.SPEC,
        mart.SPEC,
        folder.SPEC,
        *SYNTH_SETS,
    )
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise BenchError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
