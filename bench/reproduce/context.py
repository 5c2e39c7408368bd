"""What every experiment of `bench reproduce` shares: the profile, the data, how many seeds, where runs go, and
the one function that trains a system (or reuses its runs) and turns the trainings into a `Cell`."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.reproduce.results import Cell, Run
from mldrnet.errors import BenchError, one_line

log = logging.getLogger(__name__)

# Datasets by the role they play: the large 8-emotion set (Tables I-III, Figs. 5-7, and the models Figs. 8-10
# start from), the small sets of Figs. 8-10, and MART (Table IV). With no --dataset, the built-in synthetic one.
# The cue-ablation variants of synth (one level carries a 2-class label) test what each level of MldrNet sees.
LARGE = ("synth", "fi", "emoset", "synth-low", "synth-mid", "synth-high")
SMALL = {
    "fig8": ("synth-artphoto", "artphoto"),
    "fig9": ("synth-abstract", "abstract"),
    "fig10": ("synth-iaps", "iaps"),
}
BINARY = ("synth-mart", "mart")
SYNTH_NOISE = 0.3  # label noise of the synthetic "noisy" training set (it has no annotator disagreement to use)

# Trainings per network, for the run-to-run spread: the claims' default. Three is the least that gives each side
# of a comparison two degrees of freedom (Student's t, n-1); `--seeds N` changes it (the tests run with 1).
SEEDS = {"quick": 3, "paper": 3}


def _datasets(role: str, experiment: str) -> tuple[str, tuple[str, ...]]:
    """(the built-in synthetic set, every dataset allowed) of an experiment's role."""
    if role == "large":
        return "synth", LARGE
    pair = BINARY if role == "binary" else SMALL[experiment]
    return pair[0], pair


@dataclass
class ReproduceConfig:
    results_root: Path
    out: Path
    profile: str = "quick"
    dataset: str | None = None  # None: every experiment on its built-in synthetic set
    data_root: str | None = None
    noisy_extra: str | None = None  # Table II on real data: the extra noisy images (folder or CSV)
    seeds: int | None = None  # None: the profile's (SEEDS)
    extended: bool = False  # Table III with A-CNN and T-CNN
    observer: object = None  # mldrnet.training.loop.TrainObserver
    # changes to every DataConfig / TrainConfig the experiments make (tests: a tiny synthetic set, one epoch)
    data_overrides: dict = field(default_factory=dict)
    train_overrides: dict = field(default_factory=dict)
    progress: Callable[[str], None] = field(default=lambda line: None)
    debug: bool = False  # stop at the first failing training with its traceback
    max_folds: int | None = None  # Table IV: only the first folds (tests); None: every fold
    source_data_root: str | None = None  # Figs. 8-10 on real small sets: FI, where the retrained models come from
    image: str | None = None  # Fig. 5: the image to show (default: a test image MldrNet gets right)
    # the fine-tuned baselines' start (--pretrained, --weights PATH), as `bench train` takes it: the other models
    # ignore it (mldrnet.training.start), and a run of `bench train` with the same start is reused
    pretrained: bool = False
    weights: str | None = None
    force: bool = False  # train every run again (once per invocation), even when one trained the same way exists
    runs: list[Run] = field(default_factory=list)  # every training asked for, in order: trained or reused
    _forced: set = field(default_factory=set, repr=False)  # the trainings --force already redid in this invocation

    def seeds_for(self, model: str) -> list[int]:
        from mldrnet import models

        if not models.info(model).is_network:
            return [0]  # features + a classifier fitted on them: the same every time, one run
        if self.seeds is not None:
            return list(range(self.seeds))
        return list(range(SEEDS.get(self.profile, 1)))

    def start_options(self, model: str) -> dict:
        """The TrainConfig options that start `model` from ImageNet weights ({} for a model without such a start,
        or without --pretrained / --weights); the weights are looked up here, so a missing file, or no network and
        no cache, fails the experiment in one line instead of each of its trainings."""
        from mldrnet.training.start import imagenet_start, takes_imagenet

        if not (self.pretrained or self.weights) or not takes_imagenet(model):
            return {}
        imagenet_start(model, self.pretrained, self.weights)
        return {"pretrained": self.pretrained or None, "weights_path": self.weights}

    def dataset_for(self, role: str, experiment: str = "") -> tuple[str, str | None]:
        """(dataset, data root) an experiment of `role` ("large", "small", "binary") runs on; a --dataset of
        another role is refused with what to run instead."""
        synthetic, allowed = _datasets(role, experiment)
        if self.dataset is None:
            return synthetic, None
        if self.dataset not in allowed:
            raise BenchError(
                f"{experiment or role} runs on {' or '.join(allowed)}, not --dataset {self.dataset}: "
                f"drop --dataset to use the built-in synthetic set"
            )
        return self.dataset, self.data_root

    def source_config(self, experiment: str):
        """The large set the models of Figs. 8-10 are trained on (their last layer is then retrained): the
        synthetic 8-emotion set for the synthetic small sets, FI (--source-data-root) for the real ones."""
        from mldrnet.data import DataConfig

        dataset, _ = self.dataset_for("small", experiment)
        if dataset.startswith("synth"):
            return replace(DataConfig(), **self.data_overrides)
        if not self.source_data_root:
            raise BenchError(
                f"{experiment} on {dataset} retrains the last layer of models trained on FI, as the "
                f"paper does: pass --source-data-root PATH (FI's folder), or drop --dataset"
            )
        return DataConfig(dataset="fi", data_root=self.source_data_root)

    def data_config(self, role: str, experiment: str = "", **changes):
        from mldrnet.data import DataConfig

        dataset, root = self.dataset_for(role, experiment)
        return replace(DataConfig(dataset=dataset, data_root=root), **{**self.data_overrides, **changes})


def train_cell(
    ctx: ReproduceConfig,
    model: str,
    data_cfg,
    *,
    seeds: list[int] | None = None,
    unit: str = "seeds",
    index: int | None = None,
    **overrides,
) -> Cell:
    """Train `model` once per seed (runs trained the same way before are reused) and collect the test accuracies.
    The split stays the data config's (seed 0): only the training seed changes, so every seed sees the same test
    images. `index` labels a single run (the fold of a cross-validation)."""
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_model

    runs = []
    overrides = {**ctx.start_options(model), **overrides}  # raises: the experiment fails, not each seed
    for seed in seeds if seeds is not None else ctx.seeds_for(model):
        label = f"{model} seed {seed}" + (f" fold {index}" if index is not None else "")
        ctx.progress(
            f"training {label} on {data_cfg.dataset}"
            + (f" (label noise {data_cfg.label_noise:g})" if data_cfg.label_noise else "")
        )
        key = (model, repr(data_cfg), seed, repr(sorted(overrides.items())))
        force = ctx.force and key not in ctx._forced  # --force: each training once per invocation, then reused
        try:
            cfg = resolve(model, ctx.profile, seed=seed, **{**ctx.train_overrides, **overrides})
            r = train_model(cfg, data_cfg, ctx.results_root, observer=ctx.observer, force=force)
            ctx._forced.add(key)
        except Exception as e:  # a model that fails (a crop too small for it, out of memory) leaves the others
            if ctx.debug:
                raise
            runs.append(Run(None, seed if index is None else index, error=one_line(e)))
            ctx.progress(f"{label}: {one_line(e)}")
            continue
        value = 100.0 * r.test_acc if r.ok and math.isfinite(r.test_acc) else None
        run = Run(
            value,
            seed if index is None else index,
            r.how_trained,
            r.near_chance,
            r.error,
            r.seconds,
            r.skipped,
            r.run_dir,
            r.test_images,
        )
        runs.append(run)
        ctx.runs.append(run)
    return Cell(tuple(runs), unit)


def merge_folds(cells: list[Cell], folds: int = 0) -> Cell:
    """One cell of every fold's run (each labelled with its fold index) of a `folds`-fold cross-validation."""
    return Cell(tuple(run for c in cells for run in c.runs), "folds", folds=folds)


def checkpoint_of(cell: Cell, seed: int = 0):
    """The best.pt of the cell's run with this seed/index, or None when it did not train."""
    from mldrnet.io.layout import RunFolder

    run = next((r for r in cell.runs if r.index == seed and r.ok and r.run_dir), None)
    return RunFolder(Path(run.run_dir)).checkpoint if run else None
