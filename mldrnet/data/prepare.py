"""`prepare_data`: a `DataConfig` in, the train / val / test lists every consumer uses out.

Steps: resolve the dataset's folder (generating the synthetic set on first use), scan it with its format's
loader, load or write its split file under results/splits/, pick the fold, then apply the training-only label
noise and extra noisy pairs. Order of the last two: the seeded flips hit the well-labelled training split, and
the user's extra (already noisy) pairs are added after them.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from mldrnet.data import noise, splitfile
from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.registry import get_spec
from mldrnet.data.synth import SynthParams, ensure_synth, read_params
from mldrnet.errors import BenchError
from mldrnet.io import layout

log = logging.getLogger(__name__)

Pairs = list[tuple[str, int]]


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "synth"  # synth | fi | artphoto | abstract | iaps | emotion6 | emoset | mart | synth-<kind>
    data_root: str | None = None  # required for real datasets; for synth, the folder to generate into / reuse
    seed: int = 0  # split seed
    fold: int = 0  # k-fold sets: which fold is the test fold
    label_noise: float = 0.0  # flips a seeded fraction of TRAIN labels only
    noisy_extra: str | None = None  # folder (FI layout) or CSV (path,label) of extra noisy training pairs
    synth_n: int = 2400  # synthetic set size (the default dataset)
    synth_size: int = 128  # synthetic image size in px
    synth_seed: int = 0  # synthetic image seed (the content), independent of the split seed
    resplit: bool = False  # rewrite a split file whose dataset changed, instead of stopping

    def synth_params(self) -> SynthParams:
        return SynthParams(self.synth_n, self.synth_size, self.synth_seed)


@dataclass(frozen=True)
class PreparedData:
    name: str
    classes: tuple[str, ...]  # label order; for 8-class sets == mldrnet.EMOTIONS
    train: Pairs  # (path, label)
    val: Pairs
    test: Pairs
    split_file: Path
    split_hash: str  # hash of the dataset file list + split params (+ the fold for k-fold sets)
    root: Path  # the folder the dataset's files live in
    folds: int = 0  # number of folds for k-fold sets, 0 otherwise
    fold: int = 0
    n_flipped: int = 0  # training labels flipped by label_noise
    n_extra: int = 0  # extra noisy training pairs added
    dropped: tuple[str, ...] = field(default=(), repr=False)  # entries the loader left out, one line each

    def summary(self) -> dict:
        """The JSON-friendly description that checkpoints and result records carry (no sample lists)."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "split_file": str(self.split_file),
            "split_hash": self.split_hash,
            "root": str(self.root),
            "folds": self.folds,
            "fold": self.fold,
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
            "n_flipped": self.n_flipped,
            "n_extra": self.n_extra,
        }


def dataset_root(cfg: DataConfig, results_root: Path) -> tuple[Path, str]:
    """(folder to scan, split-file key). A synthetic set (`synth`, `synth-<kind>`) is generated on first use,
    in results/data/<key> unless data_root is given; a data_root that already holds a synthetic set of that kind
    (`bench data synth --out DIR`) is used as it is, whatever its parameters: the folder, not the config
    defaults, says what it holds."""
    kind = get_spec(cfg.dataset).synth_kind
    if kind:
        params = replace(cfg.synth_params(), kind=kind)  # a fixed-count kind ignores synth_n
        if cfg.data_root:
            out = Path(cfg.data_root).expanduser()
            found = read_params(out)
            if found is not None and found.kind != kind:
                name = "synth" if found.kind == "emotions" else f"synth-{found.kind}"
                raise BenchError(
                    f"{out} holds the synthetic set {found.key}, not a {cfg.dataset} set: "
                    f"use --dataset {name}, or another --data-root"
                )
            params = found or params
        else:
            out = layout.synth_dir(results_root, params.key)
        return ensure_synth(params, out).absolute(), params.key
    if not cfg.data_root:
        raise BenchError(
            f"dataset {cfg.dataset!r} needs --data-root PATH (the folder holding its files); "
            f"without one, the built-in synthetic set is used"
        )
    root = Path(cfg.data_root).expanduser()
    if not root.exists():
        raise BenchError(
            f"data root {root} does not exist: pass the folder holding the {cfg.dataset} files to --data-root"
        )
    key = cfg.dataset.lower()
    if not get_spec(cfg.dataset).classes:  # the user's own folder: one split file per folder, not one for all
        key += "-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", root.absolute().name).strip("._") or "root")
    return root.absolute(), key  # absolute: sample paths must not depend on the cwd


def scan(cfg: DataConfig, results_root: Path) -> tuple[DatasetSpec, Listing, str]:
    """(spec, listing, split-file key) of the configured dataset."""
    spec = get_spec(cfg.dataset)
    root, key = dataset_root(cfg, results_root)
    listing = spec.scan(root)
    if not spec.classes:  # the user's own folder: its classes are what the folder holds
        spec = replace(spec, classes=listing.classes or ())
    return spec, listing, key


def prepare_data(cfg: DataConfig, results_root: Path) -> PreparedData:
    spec = get_spec(cfg.dataset)
    if spec.split == "kfold" and not 0 <= cfg.fold < spec.folds:
        raise BenchError(f"--fold {cfg.fold} is out of range: {spec.name} has {spec.folds} folds (0..{spec.folds - 1})")
    if spec.split != "kfold" and cfg.fold:
        raise BenchError(
            f"--fold {cfg.fold} does not apply to {spec.name}: it has a fixed train/val/test split, no folds; drop "
            "--fold (the k-fold sets, e.g. mart, take it)"
        )
    spec, listing, key = scan(cfg, results_root)
    report_dropped(spec.name, listing.dropped)
    split_file = layout.split_file(results_root, key, cfg.seed)
    split = splitfile.load_or_create(split_file, spec, listing, cfg.seed, resplit=cfg.resplit)
    fold = cfg.fold if spec.split == "kfold" else 0
    train, val, test = split.partition(listing.root, fold)
    train, n_flipped = noise.flip_labels(train, cfg.label_noise, len(spec.classes), cfg.seed)
    n_extra = 0
    if cfg.noisy_extra:
        extra, notes = noise.load_extra(cfg.noisy_extra, spec.classes)
        report_dropped("noisy extra data", tuple(notes))
        held_out = {os.path.realpath(p) for p, _ in val + test}
        kept = [pair for pair in extra if os.path.realpath(pair[0]) not in held_out]
        if len(kept) < len(extra):  # the same file in train and test would inflate the test accuracy
            log.warning(
                f"{len(extra) - len(kept)} extra noisy images are in the val/test split and were left out of training"
            )
        train, n_extra = train + kept, len(kept)
    return PreparedData(
        spec.name,
        spec.classes,
        train,
        val,
        test,
        split.path,
        split.split_hash(fold),
        listing.root,
        spec.folds if spec.split == "kfold" else 0,
        fold,
        n_flipped,
        n_extra,
        listing.dropped,
    )


def report_dropped(what: str, dropped: tuple[str, ...], show: int = 3) -> None:
    if dropped:
        more = f" (and {len(dropped) - show} more)" if len(dropped) > show else ""
        shown = [printable(line) for line in dropped[:show]]  # a file name that is not valid UTF-8 as \xNN
        log.warning(f"{what}: {len(dropped)} entries left out: " + "; ".join(shown) + more)
