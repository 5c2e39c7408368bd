"""Split files: a dataset's split, written once under results/splits/ and reused by every model and engine.

A split file stores every (file, label, assignment) plus the hash of the file list it was made from. When the
dataset on disk no longer matches that hash (files added, removed or relabelled), `load_or_create` stops with
a BenchError rather than silently re-splitting: a new split would test new models on different images than
the models already trained. `resplit=True` (`bench data split ... --force`) rewrites it, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.splits import KFOLD_VAL_FRACTION, kfold_split, kfold_val, ratio_split
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_text

log = logging.getLogger(__name__)

FORMAT = "bench-split/1"
Pairs = list[tuple[str, int]]


@dataclass(frozen=True)
class Split:
    path: Path
    params: dict  # scheme, ratios, folds, seed, val fraction: what the assignment depends on besides the files
    file_list_hash: str
    samples: tuple[tuple[str, int, str | int], ...]  # (relative path, label, split name or fold number)
    val_by_fold: dict[int, tuple[str, ...]]  # k-fold only: validation files carved from the training folds

    def partition(self, root: Path, fold: int) -> tuple[Pairs, Pairs, Pairs]:
        """(train, val, test) as (absolute path, label), in file order."""
        parts: dict[str, Pairs] = {"train": [], "val": [], "test": []}
        val = set(self.val_by_fold.get(fold, ()))
        for rel, label, assigned in self.samples:
            where = str(assigned)
            if self.params["scheme"] == "kfold":
                where = "test" if assigned == fold else "val" if rel in val else "train"
            parts[where].append((str(root / rel), label))
        return parts["train"], parts["val"], parts["test"]

    def split_hash(self, fold: int) -> str:
        """Identifies the exact test set: equal hashes mean two runs were tested on the same images."""
        key = {"files": self.file_list_hash, **self.params}
        if self.params["scheme"] == "kfold":
            key["fold"] = fold
        return _sha(json.dumps(key, sort_keys=True))


def file_list_hash(listing: Listing) -> str:
    lines = [f"{rel}\t{label}" for rel, label in listing.samples]
    if listing.given_split is not None:
        lines = [f"{line}\t{s}" for line, s in zip(lines, listing.given_split)]
    return _sha("\n".join(lines))


def split_params(spec: DatasetSpec, seed: int) -> dict:
    if spec.split == "ratio":
        return {"scheme": "ratio", "ratios": list(spec.ratios), "seed": seed}
    if spec.split == "kfold":
        return {"scheme": "kfold", "folds": spec.folds, "val_fraction": KFOLD_VAL_FRACTION, "seed": seed}
    return {"scheme": "given"}  # the dataset's own split files: no seed involved


def load_or_create(path: Path, spec: DatasetSpec, listing: Listing, seed: int, *, resplit: bool = False) -> Split:
    params, current = split_params(spec, seed), file_list_hash(listing)
    if path.is_file():
        try:
            stored = read(path)
        except BenchError:
            if not resplit:
                raise
        else:
            if stored.params == params and stored.file_list_hash == current:
                return stored
            if not resplit:
                raise BenchError(
                    f"{spec.name}: {_what_changed(stored, listing, params)} since {path} was written; "
                    "every model must be "
                    f"tested on the same images, so restore the files or re-split with `bench data split --dataset "
                    f"{spec.name} --data-root ... --force` (models trained on the old split are then not comparable)"
                )
        log.warning(
            f"re-splitting {spec.name}: {path} is rewritten; models trained on the old split are not comparable"
        )
    split = create(path, params, listing)
    write(split)
    return split


def create(path: Path, params: dict, listing: Listing) -> Split:
    labels = [label for _, label in listing.samples]
    rels = [rel for rel, _ in listing.samples]
    val_by_fold: dict[int, tuple[str, ...]] = {}
    where: list[str | int]
    if params["scheme"] == "ratio":
        where = list(ratio_split(labels, tuple(params["ratios"]), params["seed"]))
    elif params["scheme"] == "kfold":
        folds = kfold_split(labels, params["folds"], params["seed"])
        for f in range(params["folds"]):
            val_by_fold[f] = tuple(rels[i] for i in kfold_val(labels, folds, f, params["seed"]))
        where = list(folds)
    else:
        where = list(listing.given_split or ())
    samples = tuple((rel, label, w) for (rel, label), w in zip(listing.samples, where))
    return Split(path, params, file_list_hash(listing), samples, val_by_fold)


def write(split: Split) -> None:
    doc = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": split.params,
        "file_list_hash": split.file_list_hash,
        "n_files": len(split.samples),
        "val_by_fold": {str(f): list(v) for f, v in split.val_by_fold.items()},
        "samples": [list(s) for s in split.samples],
    }
    # atomic: a concurrent reader sees the old file or the new one, never half
    atomic_write_text(split.path, json.dumps(doc, separators=(",", ":")))


def read(path: Path) -> Split:
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT}")
        samples = tuple((str(r), int(lbl), w) for r, lbl, w in doc["samples"])
        val = {int(f): tuple(v) for f, v in doc.get("val_by_fold", {}).items()}
        return Split(path, doc["params"], doc["file_list_hash"], samples, val)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BenchError(f"cannot read split file {path} ({str(e).splitlines()[0]}); delete it to re-split") from None


def _what_changed(stored: Split, listing: Listing, params: dict) -> str:
    if stored.params != params:
        return f"the split parameters changed ({stored.params} -> {params})"
    old = {rel: label for rel, label, _ in stored.samples}
    new = dict(listing.samples)
    added = sum(rel not in old for rel in new)
    removed = sum(rel not in new for rel in old)
    relabelled = sum(rel in new and new[rel] != label for rel, label in old.items())
    if not (added or removed or relabelled):
        return "the dataset's own split assignment changed"
    return f"the file list changed ({added} added, {removed} removed, {relabelled} relabelled)"


def _sha(text: str) -> str:
    # surrogateescape: a file name that is not valid UTF-8 (kept by os.fsdecode as surrogate escapes) hashes as its
    # raw bytes; every valid name hashes exactly as before. json.dumps writes such names as \udcXX escapes,
    # which json.loads reads back to the same string, so split files round-trip them.
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
