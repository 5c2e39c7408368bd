"""The results layout: the one module that knows where every file of a run lives. Every layer asks here.

    <results root>/                      ./results, --results-dir or BENCH_RESULTS_DIR
      runs/<run key>/<model>/            one trained model (a `RunFolder`):
        best.pt  last.pt                   checkpoints: best val accuracy (what every consumer loads), resume state
        metrics.jsonl  result.json         one line per epoch; the summary with the config hash
        model.onnx ...                     exported files, named by the formats table (engines.formats)
      splits/<dataset key>_seed<S>.json  the fixed split every model of a dataset uses
      data/<synth key>/                  generated synthetic datasets
      compare/<timestamp>/               compare runs (records.json, records.csv, plots)
      features/<method key>/             hand-crafted feature vectors, one per image file (content hash)
      reproduce/<timestamp>/             `bench reproduce` reports (report.md, results.json, PNGs)

A run key names a training data variant (`fi`, `fi-noise0.2`, `mart-fold3`), so runs on variants sit side by
side. Every name that becomes a path component here (run key, dataset key, model, synthetic-set and feature keys)
matches one pattern, NAME (letters, digits, `.`, `_`, `+`, `-`; no separator, no `..`, no control character),
and every path made from one is checked to stay under its root (`under`): `--dataset ../../outside` is
refused before anything is read or written. No torch here: the CLI reads this module before deciding whether to
import anything heavy.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mldrnet.errors import BenchError

ENV_VAR = "BENCH_RESULTS_DIR"
RUNS, SPLITS, DATA, COMPARE, FEATURES, REPRODUCE = "runs", "splits", "data", "compare", "features", "reproduce"
# the files of a run folder; exported files are rows of the formats table (engines.formats), which names them here
CHECKPOINT_FILE, LAST_FILE, METRICS_FILE, RESULT_FILE = "best.pt", "last.pt", "metrics.jsonl", "result.json"
TRAINING_FILES = (CHECKPOINT_FILE, LAST_FILE, METRICS_FILE, RESULT_FILE)
LOCK_FILE = ".lock"  # held by the one process writing a run folder or a compare output (mldrnet.io.lock)
ONNX_FILE = "model.onnx"
ENGINE_FILE = "model.{precision}.engine"  # + model.<precision>.json beside it (batch range, versions, GPU)


# the one pattern of a name that becomes a path component: starts with a letter or digit, at most 100 characters
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
NAME_RULE = "1-100 letters, digits, '.', '_', '+' or '-', starting with a letter or digit"


def check_name(name: object, what: str = "name") -> str:
    """`name` when it matches NAME and is no relative step ('..' inside), else one BenchError line."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        shown = repr(name)[:80].encode("ascii", "backslashreplace").decode()
        raise BenchError(f"{what} {shown} is not a valid name: use {NAME_RULE}")
    return name


def under(root: str | os.PathLike, *names: str, what: str = "name") -> Path:
    """root/names..., each name checked (check_name) and the joined path checked to stay inside `root` once
    normalised. Symlinks are not followed: a results folder may link its runs or data to another disk."""
    base = Path(root)
    path = base.joinpath(*(check_name(n, what) for n in names))
    if os.path.commonpath([os.path.normpath(os.path.abspath(base)), os.path.normpath(os.path.abspath(path))]) != (
        os.path.normpath(os.path.abspath(base))
    ):
        raise BenchError(f"{path} leads outside {base}: bench reads and writes only under its root")
    return path


def results_root(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get(ENV_VAR) or "results")


def run_key(data_cfg, data, train_seed: int = 0) -> str:
    """The folder name of a training data variant: the dataset's name, plus `-fold<k>` for a k-fold set's fold
    other than 0, `-noise<p>` with label noise, `-noisy` with extra noisy pairs, `-split<s>` for a split seed and
    `-seed<s>` for a training seed other than 0 (`bench train --seed 1` sets both; `bench reproduce` varies only
    the training seed, so that every seed sees the same test images). Runs on different variants (Table II's
    well vs noisy FI, Table IV's folds, the seeds of a run-to-run spread) then sit side by side instead of
    overwriting each other."""
    key = data.name
    if getattr(data, "folds", 0) and data_cfg.fold:
        key += f"-fold{data_cfg.fold}"
    if data_cfg.label_noise:
        key += f"-noise{data_cfg.label_noise:g}"
    if data_cfg.noisy_extra:
        key += "-noisy"
    if getattr(data_cfg, "seed", 0):
        key += f"-split{data_cfg.seed}"
    if train_seed:
        key += f"-seed{train_seed}"
    return key


@dataclass(frozen=True)
class RunFolder:
    """results/runs/<run key>/<model>/ and the names of the files training writes there."""

    path: Path

    @classmethod
    def at(cls, results_root: str | os.PathLike, model: str, key: str) -> RunFolder:
        check_name(key, "run key (--dataset)")
        return cls(under(Path(results_root) / RUNS, key, model, what="model or run key"))

    @classmethod
    def of_checkpoint(cls, checkpoint: str | os.PathLike) -> RunFolder:
        return cls(Path(checkpoint).parent)

    @property
    def model(self) -> str:
        return self.path.name

    @property
    def key(self) -> str:
        return self.path.parent.name

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def last(self) -> Path:
        return self.path / LAST_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def result(self) -> Path:
        return self.path / RESULT_FILE

    @property
    def lock(self) -> Path:
        """The lock file of the training writing this folder (present only while one runs)."""
        return self.path / LOCK_FILE

    def file(self, name: str) -> Path:
        """An exported file in this run folder (its name comes from the formats table)."""
        return self.path / name

    def sibling(self, model: str) -> RunFolder:
        """Another model trained on the same data variant (alexnet-svm starts from the trained alexnet)."""
        return RunFolder(self.path.parent / model)

    def results_root(self) -> Path | None:
        """The results root this folder lives under (<root>/runs/<key>/<model>), if it follows the layout."""
        parents = self.path.resolve().parents
        return parents[2] if len(parents) > 2 and parents[1].name == RUNS else None


def checkpoint_path(results_root: str | os.PathLike, model: str, key: str) -> Path:
    """The checkpoint export, compare and predict use: <root>/runs/<key>/<model>/best.pt."""
    return RunFolder.at(results_root, model, key).checkpoint


def trained_models(results_root: str | os.PathLike, key: str, names: Iterable[str]) -> list[str]:
    """Those of `names` (in their order: pass the zoo's) that have a checkpoint for run key `key`."""
    return [n for n in names if checkpoint_path(results_root, n, key).is_file()]


def root_of_checkpoint(checkpoint: str | os.PathLike, configured: str | os.PathLike | None = None) -> Path:
    """The results root a checkpoint lives under, where its dataset's split file and synthetic images are; for a
    checkpoint outside the layout, the configured root."""
    return RunFolder.of_checkpoint(checkpoint).results_root() or results_root(configured)


def runs_dir(results_root: str | os.PathLike, key: str) -> Path:
    return under(Path(results_root) / RUNS, key, what="run key (--dataset)")


def split_file(results_root: str | os.PathLike, dataset_key: str, seed: int) -> Path:
    check_name(dataset_key, "dataset key")
    return under(Path(results_root) / SPLITS, f"{dataset_key}_seed{int(seed)}.json", what="dataset key")


def synth_dir(results_root: str | os.PathLike, synth_key: str) -> Path:
    return under(Path(results_root) / DATA, synth_key, what="synthetic set key")


def feature_cache_dir(results_root: str | os.PathLike, key: str) -> Path:
    """results/features/<key>/: hand-crafted feature vectors, one file per image (mldrnet.models.handcrafted)."""
    return under(Path(results_root) / FEATURES, key, what="feature cache key")


def tune_dir(results_root: str | os.PathLike, study: str) -> Path:
    """results/tune/<study>/: a `bench tune` study (search.json, trials.csv, its journal; trials train in trials/)."""
    return under(Path(results_root) / "tune", study, what="study name")


def reproduce_dir(results_root: str | os.PathLike) -> Path:
    return Path(results_root) / REPRODUCE


def compare_dir(results_root: str | os.PathLike) -> Path:
    return Path(results_root) / COMPARE


def new_compare_dir(results_root: str | os.PathLike) -> Path:
    """results/compare/<timestamp>, with a suffix when two runs start in the same second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = compare_dir(results_root) / stamp
    n = 1
    while out.exists():
        n += 1
        out = compare_dir(results_root) / f"{stamp}-{n}"
    return out


def latest_compare_run(results_root: str | os.PathLike, marker: str = "records.json") -> Path | None:
    runs = sorted(p for p in compare_dir(results_root).glob("*") if (p / marker).is_file())
    return runs[-1] if runs else None
