"""The benchmark matrix: trained models x engine variants x batch sizes -> one `Record` per row.

Per (model, variant) the test split runs through the engine once (accuracy, per-class TPR, confusion matrix,
parity against PyTorch fp32 eager on the CPU); then, per batch size, the engine is timed on a fixed random
batch (latency at that batch, throughput in images/s). Accuracy is measured at the size the model was trained at (the
checkpoint's crop, `input_size`); timing at `CompareConfig.size` when given (the serving size, `timing_size`: the
engine's file is then made for that size too), else at the trained size. GFLOPs per image are counted at the timing
size, and each row's achieved GFLOP/s is set against the machine's fp32 matrix-product peak, measured once per run
(bench.timing.measure_peak, stored as calibration.<device>.peak). Anything that goes wrong in a row (no export, provider
missing, out of memory, a crash inside an engine) becomes that row's error and the run goes on, as in timm's
and Ultralytics' benchmark scripts. A calibration matrix product is timed before and after the matrix so that
`bench check` can compare timings from different machines.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.artifacts import Artifact, artifact_for
from bench.envinfo import environment, usable_cpus
from bench.records import CompareRun, Record
from bench.timing import (
    Calibration,
    TimingConfig,
    achieved,
    calibrate,
    measure_engine,
    measure_peak,
    measure_resident,
    pin_threads,
)
from bench.variants import Variant, cuda_available, select_variants
from engines.base import Engine, EngineOptions, create_engine
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.evalset import EvalSet, for_checkpoint
from mldrnet.errors import BenchError, one_line
from mldrnet.evaluation.metrics import classification_metrics, parity
from mldrnet.io import layout
from mldrnet.io.atomic import writable_dir
from mldrnet.io.lock import exclusive
from mldrnet.models.stats import profile
from mldrnet.training.hooks import describe_checkpoint

CPU_BATCHES = (1, 8)  # latency at batch 1, throughput at a batch that fills 2-4 cores without minutes per row
GPU_BATCHES = (1, 32)
CALIBRATION_TIMING = TimingConfig(warmup_iters=3, warmup_s=0.1, min_iters=20, budget_s=0.5)
ROW_CALIBRATION_TIMING = TimingConfig(warmup_iters=2, warmup_s=0.0, min_iters=15, budget_s=0.05)


@dataclass(frozen=True)
class CompareConfig:
    dataset: str = "synth"  # which trained runs to use: results/runs/<dataset>/<model>/best.pt
    data_root: str | None = None  # where that dataset's images are on this machine (default: the checkpoint's)
    models: tuple[str, ...] | None = None  # None: every trained model of the dataset
    engines: tuple[str, ...] | None = None  # variant labels or engine names; None: the machine's defaults
    precisions: tuple[str, ...] | None = None
    batch_sizes: tuple[int, ...] | None = None  # None: CPU_BATCHES for CPU rows, GPU_BATCHES for GPU rows
    eval_batch_size: int = 32
    max_test_images: int | None = None  # quick knob: a seeded subset of the test split
    threads: int | None = None  # None: every usable CPU core
    size: int | None = None  # px at which every engine is exported and timed (the serving size); None: the trained size
    peak_budget_s: float = 1.0  # seconds of the fp32 matrix-product peak measurement (at least 3 products)
    timing: TimingConfig = field(default_factory=TimingConfig)
    calibration: TimingConfig = field(default_factory=lambda: CALIBRATION_TIMING)
    cache_bytes: int = 2 << 30  # keep the preprocessed test split in memory up to this size
    fail_fast: bool = False  # raise instead of writing an error row (debugging)

    def to_dict(self) -> dict:
        return asdict(self)


def check_output_dir(path: str | Path) -> Path:
    """Before any work (the CLI calls it first): the output folder is created when missing and must take files
    (not a file, not read-only, not full of someone else's files), else one BenchError line."""
    return writable_dir(path, "compare output folder")


def output_lock(path: str | Path):
    """The compare output folder's lock (mldrnet.io.lock): one compare run writes a folder at a time; re-entrant."""
    return exclusive(Path(path) / layout.LOCK_FILE, f"the compare output folder {path}")


@dataclass(frozen=True)
class TrainedModel:
    name: str
    checkpoint: Path


def _default_eval_set(ckpt: Checkpoint, config: CompareConfig, results_root: Path) -> EvalSet:
    # config.dataset names the runs folder, which may be a run key such as "mart-fold3" or "fi-noise0.2";
    # the images come from the checkpoint's own data configuration (the split it was trained and tested on)
    return for_checkpoint(
        ckpt,
        "test",
        results_root,
        data_root=config.data_root,
        batch_size=config.eval_batch_size,
        max_images=config.max_test_images,
        cache_bytes=config.cache_bytes,
    )


@dataclass(frozen=True)
class Hooks:
    """Where compare reaches outside itself; tests replace them with fakes."""

    eval_set: Callable[[Checkpoint, CompareConfig, Path], EvalSet] = _default_eval_set
    # (variant, checkpoint, model, max_batch, results_root, data_root[, size=S]): size only when timing at another
    # size than the checkpoint's crop (CompareConfig.size), so hooks without it serve the default runs
    artifact: Callable[..., Artifact] = artifact_for
    engine: Callable[[str, Any, EngineOptions], Engine] = create_engine


def find_trained(results_root: Path, dataset: str, names: tuple[str, ...] | None) -> list[TrainedModel]:
    """Named models (trained or not: an untrained one becomes error rows), or every trained one in zoo order."""
    if names:
        for m in names:
            models.info(m)  # an unknown name is a typo, not a row
        return [TrainedModel(m, layout.checkpoint_path(results_root, m, dataset)) for m in names]
    found = [
        TrainedModel(m, layout.checkpoint_path(results_root, m, dataset))
        for m in layout.trained_models(results_root, dataset, models.names())
    ]
    if not found:
        raise BenchError(
            f"no trained models under {layout.runs_dir(results_root, dataset)}: run `bench train-all` first"
        )
    return found


def _pct(x: float) -> float | None:
    return None if np.isnan(x) else 100.0 * x


@torch.inference_mode()
def _reference_logits(model: torch.nn.Module, ev: EvalSet) -> np.ndarray:
    return np.concatenate([model(images).float().numpy() for images, _ in ev.batches()])


def _run_split(engine: Engine, ev: EvalSet) -> tuple[np.ndarray, np.ndarray]:
    logits, labels = [], []
    for images, y in ev.batches():
        logits.append(torch.as_tensor(engine(images)).float().cpu().numpy())
        labels.append(y.numpy())
    if not logits:
        raise BenchError("the test split is empty")
    return np.concatenate(logits), np.concatenate(labels)


class _Matrix:
    """One compare run's state: settings, hooks and a progress callback."""

    def __init__(
        self,
        config: CompareConfig,
        results_root: Path,
        hooks: Hooks,
        progress: Callable[[str], None],
        variants: list[Variant],
        threads: int,
        peaks: dict[str, float] | None = None,
        predictions_dir: Path | None = None,
    ):
        self.config, self.root, self.hooks, self.progress = config, results_root, hooks, progress
        self.variants, self.threads = variants, threads
        self.peaks = peaks or {}  # device -> measured fp32 matrix-product GFLOP/s
        self.predictions_dir = predictions_dir  # where each accuracy row's per-image predictions go (None: nowhere)

    def batches(self, v: Variant) -> tuple[int, ...]:
        # a GPU's throughput batch would take minutes per call for a big model on the CPU
        return tuple(self.config.batch_sizes or (GPU_BATCHES if v.device == "cuda" else CPU_BATCHES))

    def _guard(self, e: Exception) -> None:
        if self.config.fail_fast:
            raise e

    def model_rows(self, tm: TrainedModel) -> list[Record]:
        try:
            ckpt = Checkpoint.load(tm.checkpoint)
            model = models.load(ckpt)
            ev = self.hooks.eval_set(ckpt, self.config, self.root)
            timing_size = self.config.size or ev.size
            if self.config.size:  # a serving size below the model's smallest input: its rows say so in one line
                models.check_input_size(tm.name, timing_size, "--size")
            prof = profile(model, timing_size)  # GFLOPs per image where the model is timed
        except Exception as e:
            self._guard(e)
            self.progress(f"{tm.name}: {one_line(e)}")
            return [
                _error_row(tm.name, v, b, one_line(e), dataset=self.config.dataset)
                for v in self.variants
                for b in self.batches(v)
            ]
        common = dict(
            dataset=ev.dataset,
            split_hash=ev.split_hash,
            classes=ev.classes,
            input_size=ev.size,
            timing_size=timing_size,
            params=prof.params,
            threads=self.threads,
            gflops=prof.gflops if models.info(tm.name).is_network else None,
            paper_fi_accuracy_pct=models.info(tm.name).paper_fi_accuracy if ev.dataset == "fi" else None,
            how_trained=describe_checkpoint(ckpt),
            near_chance=ckpt.near_chance,
        )
        rows, reference = [], None
        for v in self.variants:
            if reference is None and not v.is_reference:  # no (successful) reference row: run the model itself
                try:
                    reference = _reference_logits(model, ev)
                except Exception as e:
                    self._guard(e)
                    self.progress(f"{tm.name}: no PyTorch reference for parity: {one_line(e)}")
            new_rows, logits = self.variant_rows(tm, v, model, ev, reference, common)
            if v.is_reference and logits is not None and reference is None:
                reference = logits
            rows += new_rows
        return rows

    def variant_rows(
        self,
        tm: TrainedModel,
        v: Variant,
        model: torch.nn.Module,
        ev: EvalSet,
        reference: np.ndarray | None,
        common: dict,
    ) -> tuple[list[Record], np.ndarray | None]:
        offered = models.info(tm.name).formats
        if offered is not None and v.format not in offered:  # e.g. hand-crafted features have no ONNX form
            why = f"not applicable: {tm.name} runs only as {', '.join(offered)} (no {v.format} form)"
            return [_error_row(tm.name, v, b, why, **common) for b in self.batches(v)], None
        max_batch = max(self.config.eval_batch_size, *self.batches(v))
        size = common.get("timing_size") or ev.size
        engine = None
        try:
            art = self.hooks.artifact(v, tm.checkpoint, model, max_batch, self.root, self.config.data_root)
            common = dict(common, file_format=v.format, file_bytes=art.nbytes)
            engine = self.hooks.engine(v.engine, art.source, v.options(self.threads, max_batch))
            logits, labels = _run_split(engine, ev)  # accuracy at the trained size
            if size != ev.size:  # timing at the serving size: its own file (an export is made for one size)
                engine = None  # the accuracy engine goes before the timing one is made
                gc.collect()
                art = self.hooks.artifact(
                    v, tm.checkpoint, model, max_batch, self.root, self.config.data_root, size=size
                )
                common = dict(common, file_bytes=art.nbytes)
                engine = self.hooks.engine(v.engine, art.source, v.options(self.threads, max_batch))
            ref = logits if v.is_reference and reference is None else reference
            m = classification_metrics(labels.tolist(), logits.argmax(1).tolist(), len(ev.classes))
            if self.predictions_dir is not None:
                save_predictions(self.predictions_dir, tm.name, v, ev, logits, labels)
            same = None if ref is None else parity(ref, logits)
            info = dict(engine.describe())
            common = dict(
                common,
                test_images=ev.count,
                unreadable=ev.unreadable,
                accuracy_pct=100 * m.top1,
                mean_tpr_pct=_pct(m.mean_class_tpr),
                per_class_tpr_pct=tuple(_pct(t) for t in m.per_class_tpr),
                confusion=m.confusion,
                engine_info=info,
                agreement_pct=None if same is None else 100 * same.top1_agreement,
                max_logit_diff=None if same is None else same.max_abs_diff,
                threads=info.get("threads", self.threads),
            )
        except Exception as e:
            self._guard(e)
            self.progress(f"{tm.name} {v.label} {v.precision}: {one_line(e)}")
            engine = None  # free a half-made engine before the next variant
            return [_error_row(tm.name, v, b, one_line(e), **common) for b in self.batches(v)], None
        rows = [self.timed_row(tm, v, engine, size, b, common) for b in self.batches(v)]
        del engine
        gc.collect()
        if v.device == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        return rows, logits

    def timed_row(self, tm: TrainedModel, v: Variant, engine: Engine, size: int, batch: int, common: dict) -> Record:
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
        try:
            # the yardstick again, right before this row: the machine's load can change during a run
            row_cal = calibrate(v.device, ROW_CALIBRATION_TIMING).median_ms
            m = measure_engine(engine, x, self.config.timing)
        except Exception as e:
            self._guard(e)
            self.progress(f"{tm.name} {v.label} {v.precision} batch {batch}: {one_line(e)}")
            return _error_row(tm.name, v, batch, one_line(e), **common)
        lat = m.latency
        rate, fraction = achieved(common.get("gflops"), m.images_per_s, self.peaks.get(v.device))
        extra: dict = dict(achieved_gflops=rate, peak_fraction=fraction)
        if v.device == "cuda":  # device-resident: the input already on the GPU, no host-to-device copy
            try:
                r = measure_resident(engine, x, v.device, self.config.timing)
                extra = dict(extra, resident_p50_ms=r.latency.p50_ms, resident_ips=r.images_per_s)
            except Exception as e:
                self._guard(e)
                extra = dict(extra, engine_info=dict(common.get("engine_info", {}), resident_error=one_line(e)))
        self.progress(
            f"{tm.name} {v.label} {v.precision} batch {batch} at {size} px: p50 {lat.p50_ms:.2f} ms, "
            f"{m.images_per_s:.1f} img/s"
            + (f", {fraction:.0%} of peak" if fraction is not None else "")
            + (" (noisy)" if m.noisy else "")
        )
        return Record(
            tm.name,
            v.label,
            v.engine,
            v.device,
            v.precision,
            batch,
            v.provider,
            **{
                **common,
                **extra,
                "lat_count": lat.count,
                "lat_mean_ms": lat.mean_ms,
                "lat_std_ms": lat.std_ms,
                "lat_min_ms": lat.min_ms,
                "lat_p50_ms": lat.p50_ms,
                "lat_p90_ms": lat.p90_ms,
                "lat_p99_ms": lat.p99_ms,
                "lat_max_ms": lat.max_ms,
                "lat_cv": lat.cv,
                "throughput_ips": m.images_per_s,
                "noisy": m.noisy,
                "calibration_ms": row_cal,
            },
        )


PREDICTIONS_DIR = "predictions"  # beside records.json: <model>.<variant>.<precision>.npz, one per accuracy row


def save_predictions(folder: Path, model: str, v: Variant, ev: EvalSet, logits: np.ndarray, labels: np.ndarray) -> Path:
    """One accuracy row's per-image predictions (mldrnet.training.predictions), keyed by image path (by position,
    for an evaluation set that has no paths)."""
    from mldrnet.training.predictions import Predictions

    paths = ev.readable_paths()
    how = "path"
    if len(paths) != len(labels):
        paths, how = [f"{ev.dataset}#{i}" for i in range(len(labels))], "position"
    meta = dict(
        model=model,
        variant=v.label,
        engine=v.engine,
        device=v.device,
        precision=v.precision,
        reference=v.is_reference,
        dataset=ev.dataset,
        split_hash=ev.split_hash,
        split="test",
        keyed_by=how,
    )
    path = Path(folder) / f"{model}.{v.label}.{v.precision}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    return Predictions.from_logits(paths, labels, logits, ev.classes, **meta).save(path)


def _error_row(model: str, v: Variant, batch: int, error: str, **common) -> Record:
    keep = {
        k: common[k]
        for k in (
            "dataset",
            "split_hash",
            "classes",
            "input_size",
            "timing_size",
            "params",
            "gflops",
            "threads",
            "paper_fi_accuracy_pct",
            "file_format",
            "file_bytes",
            "how_trained",
            "near_chance",
        )
        if k in common
    }
    return Record(model, v.label, v.engine, v.device, v.precision, batch, v.provider, error=error, **keep)


def run_compare(
    config: CompareConfig,
    results_root: Path,
    hooks: Hooks = Hooks(),
    progress: Callable[[str], None] = lambda s: None,
    predictions_dir: Path | None = None,
) -> CompareRun:
    """The matrix; with `predictions_dir`, each accuracy row's per-image predictions are saved there."""
    variants = select_variants(list(config.engines or []), list(config.precisions or []))
    gpu_rows = any(v.device == "cuda" for v in variants) and cuda_available()
    if any(b < 1 for b in config.batch_sizes or ()):
        raise BenchError("batch sizes must be >= 1")
    if config.size is not None and config.size < 1:
        raise BenchError("the timing size must be >= 1 px")
    trained = find_trained(results_root, config.dataset, config.models)
    previous_threads = torch.get_num_threads()
    threads = pin_threads(config.threads or usable_cpus())
    try:
        devices = ["cpu"] + (["cuda"] if gpu_rows else [])
        before = {d: calibrate(d, config.calibration) for d in devices}
        peaks = {}
        for d in devices:  # once per run, with the run's threads: what "% of peak" divides by
            try:
                peaks[d] = measure_peak(d, budget_s=config.peak_budget_s)
                progress(
                    f"{d} fp32 matrix-product peak: {peaks[d].gflops_per_s:.1f} GFLOP/s "
                    f"({peaks[d].size}x{peaks[d].size}, {threads} threads)"
                )
            except Exception as e:  # no peak: rows keep their GFLOP/s, without a fraction
                if config.fail_fast:
                    raise
                progress(f"no {d} matrix-product peak: {one_line(e)}")
        matrix = _Matrix(
            config,
            results_root,
            hooks,
            progress,
            variants,
            threads,
            {d: p.gflops_per_s for d, p in peaks.items()},
            predictions_dir,
        )
        records = [r for tm in trained for r in matrix.model_rows(tm)]
        after = {d: calibrate(d, config.calibration) for d in devices}
    finally:
        torch.set_num_threads(previous_threads)
    calibration = {
        d: summarize_calibration(
            before[d], after[d], [r.calibration_ms for r in records if r.device == d and r.calibration_ms]
        )
        for d in devices
    }
    for d, p in peaks.items():
        calibration[d]["peak"] = p.to_dict()
    env = environment(config.dataset, [r.split_hash for r in records if r.split_hash], threads)
    return CompareRun(tuple(records), env, config.to_dict(), calibration)


def summarize_calibration(before: Calibration, after: Calibration, per_row: list[float]) -> dict:
    """The run's yardstick: the median of every calibration taken (start, before each row, end). `spread`, the
    largest over the smallest, shows whether the machine's load changed during the run (a busy machine)."""
    samples = [before.median_ms, after.median_ms, *per_row]
    return {
        **before.to_dict(),
        "median_ms": float(np.median(samples)),
        "before_ms": before.median_ms,
        "after_ms": after.median_ms,
        "samples": len(samples),
        "spread": max(samples) / min(samples),
    }
