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

Every row says what it timed (Record.timed): "model" rows run a fixed batch already in memory; with
`CompareConfig.end_to_end`, "<variant>-e2e" rows at batch 1 (single stream) and the largest timed batch (offline)
decode the test split's image files on every call (the accuracy pass's loader code, in the calling thread), then
run the model. Every row carries what it cost (bench.mlperf.resources): resident memory, CPU over its timing, the
seconds to get its file, make its engine and run its first call, and device memory on a GPU. `CompareConfig.onnx`
adds an image classifier that bench did not write (bench.mlperf.foreign), on ONNX Runtime's CPU provider over the
same test images with ImageNet preprocessing at its input size; its accuracy only where its labels name the
dataset's classes (the row's accuracy_note says why otherwise). The user's batch sizes reach every engine that
tunes for a batch (TensorRT's optimisation profiles, in its file and in ORT's TensorRT provider).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.artifacts import PER_BATCH_FORMATS, Artifact, artifact_for
from bench.envinfo import environment, usable_cpus
from bench.mlperf.foreign import ForeignOnnx, file_bytes, label_map, mapped_predictions, read_labels
from bench.mlperf.resources import Meter, resident_mb
from bench.peak import Peak, executed_gflops
from bench.records import CompareRun, Record
from bench.timing import (
    Calibration,
    Measurement,
    TimingConfig,
    achieved,
    calibrate,
    measure,
    measure_engine,
    measure_peak,
    measure_resident,
    pin_threads,
)
from bench.variants import Variant, cuda_available, select_variants
from engines.base import Engine, EngineOptions, create_engine
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.evalset import EvalSet, data_config, for_checkpoint, load_split
from mldrnet.data.loader import ImageSamples
from mldrnet.data.prepare import DataConfig
from mldrnet.data.transforms import Preprocessing, eval_transform
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
    # seconds of the fp32 matrix-product peak measurement (at least 3 runs): on a 2-core VM with neighbours, the
    # best run of 1 s moved 17 % between measurements (158-189 GFLOP/s, 8 tries), of 3 s 2.5 % (189-193, 4 tries)
    peak_budget_s: float = 3.0
    timing: TimingConfig = field(default_factory=TimingConfig)
    calibration: TimingConfig = field(default_factory=lambda: CALIBRATION_TIMING)
    cache_bytes: int = 2 << 30  # keep the preprocessed test split in memory up to this size
    fail_fast: bool = False  # raise instead of writing an error row (debugging)
    # also time each engine end to end (Record.timed): batch 1 (single stream) and the largest timed batch
    # (offline), each call decoding its JPEG files, resizing, cropping and normalising them in the calling thread
    # (the accuracy pass's own loader code) before the model; off by default: it doubles a row's timing time
    end_to_end: bool = False
    onnx: str | None = None  # an image-classifier ONNX file bench did not write, timed beside the zoo models
    onnx_input_size: int | None = None  # its input side (px) where the file leaves it dynamic
    onnx_labels: str | None = None  # its class names, one a line in output order: accuracy only where they match

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


def _foreign_eval_set(data: DataConfig, size: int, config: CompareConfig, results_root: Path) -> EvalSet:
    # the zoo models' test images (the same split file), with the ImageNet preprocessing foreign classifiers expect
    return load_split(
        data,
        Preprocessing(crop=size),
        "test",
        results_root,
        batch_size=config.eval_batch_size,
        max_images=config.max_test_images,
        cache_bytes=config.cache_bytes,
    )


@dataclass(frozen=True)
class Hooks:
    """Where compare reaches outside itself; tests replace them with fakes."""

    eval_set: Callable[[Checkpoint, CompareConfig, Path], EvalSet] = _default_eval_set
    # (variant, checkpoint, model, max_batch, results_root, data_root[, size=S][, batches=B]): size only when
    # timing at another size than the checkpoint's crop (CompareConfig.size), batches (the timed batch sizes) only
    # for a file built per batch (bench.artifacts.PER_BATCH_FORMATS: a TensorRT engine), so hooks without them
    # serve the default runs
    artifact: Callable[..., Artifact] = artifact_for
    engine: Callable[[str, Any, EngineOptions], Engine] = create_engine
    # (data config, input side, config, results_root): the --onnx model's test split, ImageNet preprocessing
    foreign_eval_set: Callable[[DataConfig, int, CompareConfig, Path], EvalSet] = _foreign_eval_set


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


def _run_split(engine: Engine, ev: EvalSet) -> tuple[np.ndarray, np.ndarray, float]:
    """(logits, labels, seconds of the first call): an engine's first batch is where torch.compile compiles and
    ORT's TensorRT provider builds its engine, so its time is the row's `first_call_s`."""
    logits, labels, first = [], [], None
    for images, y in ev.batches():
        start = time.perf_counter()
        logits.append(torch.as_tensor(engine(images)).float().cpu().numpy())  # .cpu(): the call has finished
        first = time.perf_counter() - start if first is None else first
        labels.append(y.numpy())
    if not logits or first is None:
        raise BenchError("the test split is empty")
    return np.concatenate(logits), np.concatenate(labels), first


# an --onnx model runs on ONNX Runtime's CPU provider (bench.mlperf.foreign.ForeignOnnx), in the ort-cpu column
FOREIGN_VARIANT = Variant("ort-cpu", "onnx", "cpu", "fp32", "cpu")
END_TO_END_SUFFIX = "-e2e"  # an end-to-end row's variant label: ort-cpu-e2e (the row key stays unique)


class EndToEnd:
    """One batch made from the test split's image files on every call: mldrnet.data.loader.ImageSamples
    (decode_image, with libjpeg's draft scaling, then the evaluation transform: resize, centre crop, normalise),
    the accuracy pass's own code, run in the calling thread before the engine, cycling through the files."""

    def __init__(self, paths: list[str], pre: Preprocessing):
        if not paths:
            raise BenchError(
                "end-to-end timing needs the test split's image files, and this evaluation set holds images in "
                "memory only: run without end-to-end rows"
            )
        self.images = ImageSamples([(p, 0) for p in paths], eval_transform(pre), pre.resize_to)
        self.next = 0

    def batch(self, n: int) -> torch.Tensor:
        out = []
        for _ in range(n):
            image, _, bad = self.images[self.next % len(self.images)]
            self.next += 1
            if bad is not None:  # readable in the accuracy pass, not now: the file changed under the run
                raise BenchError(f"{bad[0]} became unreadable during the run: {bad[1]}")
            out.append(image)
        return torch.stack(out)


def _usage_fields(usage: Any) -> dict:
    """A bench.mlperf.resources.Usage as Record fields."""
    if usage is None:
        return {}
    return dict(
        peak_rss_mb=usage.peak_rss_mb,
        window_rss_mb=usage.window_rss_mb,
        cpu_util_pct=usage.cpu_util_pct,
        cpu_cores_busy=usage.cpu_cores_busy,
        device_used_mb=usage.device_used_mb,
        device_peak_mb=usage.device_torch_peak_mb,
    )


def _metered(device: str, timing: Callable[[], Measurement]) -> tuple[Measurement, dict]:
    """`timing()` with this process's CPU and memory metered over it (bench.mlperf.resources.Meter)."""
    meter = Meter(device)
    meter.start()
    try:
        m = timing()
    finally:
        usage = meter.stop()
    return m, _usage_fields(usage)


def _accuracy_fields(logits: np.ndarray, labels: np.ndarray, classes: int, predictions: np.ndarray | None = None):
    """accuracy_pct, mean and per-class TPR and the confusion matrix; `predictions` (default: the top logit) may
    hold `classes` for an answer outside the dataset's classes (a foreign model's), which is wrong for every image
    and leaves the confusion matrix out (it has no column for it)."""
    predicted = logits.argmax(1) if predictions is None else predictions
    outside = bool((predicted >= classes).any())
    m = classification_metrics(labels.tolist(), predicted.tolist(), classes + int(outside))
    return dict(
        accuracy_pct=100 * m.top1,
        mean_tpr_pct=_pct(m.mean_class_tpr),  # the extra class has no true image: its TPR is NaN, left out
        per_class_tpr_pct=tuple(_pct(t) for t in m.per_class_tpr[:classes]),
        confusion=None if outside else m.confusion,
    )


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
        peaks: dict[str, Peak] | None = None,
        predictions_dir: Path | None = None,
        on_row: Callable[[int, int], None] = lambda done, total: None,
    ):
        self.config, self.root, self.hooks, self.progress = config, results_root, hooks, progress
        self.on_row, self.done, self.total = on_row, 0, 0  # rows made / expected, for "row n/N, ~T left"
        self.variants, self.threads = variants, threads
        self.peaks = peaks or {}  # device -> the run's measured peak (bench.peak): fp32 rate, int8 limit
        self.predictions_dir = predictions_dir  # where each accuracy row's per-image predictions go (None: nowhere)
        self.data: DataConfig | None = None  # the first zoo model's data (its split): an --onnx model's test images

    def batches(self, v: Variant) -> tuple[int, ...]:
        # a GPU's throughput batch would take minutes per call for a big model on the CPU
        return tuple(self.config.batch_sizes or (GPU_BATCHES if v.device == "cuda" else CPU_BATCHES))

    def end_to_end_batches(self, v: Variant) -> tuple[int, ...]:
        """Single stream (batch 1) and offline (the largest timed batch)."""
        return tuple(dict.fromkeys((1, max(self.batches(v)))))

    def rows_of(self, v: Variant) -> int:
        """The rows one model makes for `v` (its timed batches, and the end-to-end ones when asked for)."""
        return len(self.batches(v)) + (len(self.end_to_end_batches(v)) if self.config.end_to_end else 0)

    def counted(self, rows: list[Record]) -> list[Record]:
        """`rows`, made: the count goes to `on_row` (the CLI's progress line)."""
        self.done += len(rows)
        self.on_row(self.done, max(self.total, self.done))
        return rows

    def _guard(self, e: Exception) -> None:
        if self.config.fail_fast:
            raise e

    def _error_rows(self, model: str, v: Variant, error: str, common: dict) -> list[Record]:
        rows = [_error_row(model, v, b, error, **common, timed="model") for b in self.batches(v)]
        if self.config.end_to_end:
            e2e = replace(v, label=v.label + END_TO_END_SUFFIX)
            rows += [_error_row(model, e2e, b, error, **common, timed="end to end") for b in self.end_to_end_batches(v)]
        return self.counted(rows)

    def model_rows(self, tm: TrainedModel) -> list[Record]:
        try:
            ckpt = Checkpoint.load(tm.checkpoint)
            model = models.load(ckpt)
            ev = self.hooks.eval_set(ckpt, self.config, self.root)
            timing_size = self.config.size or ev.size
            if self.config.size:  # a serving size below the model's smallest input: its rows say so in one line
                models.check_input_size(tm.name, timing_size, "--size")
            prof = profile(model, timing_size)  # parameters
            # GFLOPs per image where the model is timed, convolutions over real inputs (not padding), as the
            # engines execute them
            gflops = executed_gflops(model, timing_size) if models.info(tm.name).is_network else None
            pre = self._serving_preprocessing(ckpt, timing_size)
        except Exception as e:
            self._guard(e)
            self.progress(f"{tm.name}: {one_line(e)}")
            known = {"dataset": self.config.dataset}
            return [r for v in self.variants for r in self._error_rows(tm.name, v, one_line(e), known)]
        common = dict(
            dataset=ev.dataset,
            split_hash=ev.split_hash,
            classes=ev.classes,
            input_size=ev.size,
            timing_size=timing_size,
            params=prof.params,
            threads=self.threads,
            gflops=gflops,
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
            new_rows, logits = self.variant_rows(tm, v, model, ev, reference, common, pre)
            if v.is_reference and logits is not None and reference is None:
                reference = logits
            rows += new_rows
        return rows

    def _serving_preprocessing(self, ckpt: Checkpoint, size: int) -> Preprocessing:
        """The checkpoint's evaluation preprocessing at the timing size (end-to-end rows); and the first zoo
        model's data configuration is kept for an --onnx model's test images."""
        from engines.export import at_size

        if self.data is None and ckpt.data_config is not None:
            self.data = data_config(ckpt, data_root=self.config.data_root)
        return at_size(ckpt, size).preprocessing

    def load(self, v: Variant, tm: TrainedModel, model: torch.nn.Module, size: int | None, common: dict):
        """(engine, common with the file's and the engine's making figures): `size` None is the checkpoint's crop."""
        batches = self.batches(v)
        max_batch = max(self.config.eval_batch_size, *batches)
        extra: dict[str, Any] = {} if size is None else {"size": size}
        if v.format in PER_BATCH_FORMATS:  # e.g. a TensorRT engine: a profile tuned at each timed batch
            extra["batches"] = batches
        start = time.perf_counter()
        art = self.hooks.artifact(v, tm.checkpoint, model, max_batch, self.root, self.config.data_root, **extra)
        export_s = time.perf_counter() - start
        before = resident_mb()
        start = time.perf_counter()
        engine = self.hooks.engine(v.engine, art.source, v.options(self.threads, max_batch, batches))
        load_s = time.perf_counter() - start
        made = dict(file_format=v.format, file_bytes=art.nbytes, export_s=export_s, load_s=load_s)
        return engine, dict(common, **made, engine_rss_mb=resident_mb() - before)

    def variant_rows(
        self,
        tm: TrainedModel,
        v: Variant,
        model: torch.nn.Module,
        ev: EvalSet,
        reference: np.ndarray | None,
        common: dict,
        pre: Preprocessing,
    ) -> tuple[list[Record], np.ndarray | None]:
        offered = models.info(tm.name).formats
        if offered is not None and v.format not in offered:  # e.g. hand-crafted features have no ONNX form
            why = f"not applicable: {tm.name} runs only as {', '.join(offered)} (no {v.format} form)"
            return self._error_rows(tm.name, v, why, common), None
        size = common.get("timing_size") or ev.size
        engine = None
        try:
            engine, common = self.load(v, tm, model, None, common)
            logits, labels, first_s = _run_split(engine, ev)  # accuracy at the trained size
            if size != ev.size:  # timing at the serving size: its own file (an export is made for one size)
                engine = None  # the accuracy engine goes before the timing one is made
                gc.collect()
                engine, common = self.load(v, tm, model, size, common)
                first_s = _first_call(engine, self.batches(v)[0], size)
            common = dict(common, first_call_s=first_s)
            ref = logits if v.is_reference and reference is None else reference
            if self.predictions_dir is not None:
                save_predictions(self.predictions_dir, tm.name, v, ev, logits, labels)
            common = self.accuracy_common(engine, ev, logits, labels, ref, common)
        except Exception as e:
            self._guard(e)
            self.progress(f"{tm.name} {v.label} {v.precision}: {one_line(e)}")
            engine = None  # free a half-made engine before the next variant
            return self._error_rows(tm.name, v, one_line(e), common), None
        rows = self.engine_rows(tm.name, v, engine, size, common, ev, pre)
        del engine
        gc.collect()
        if v.device == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        return rows, logits

    def accuracy_common(
        self,
        engine: Engine,
        ev: EvalSet,
        logits: np.ndarray | None,
        labels: np.ndarray,
        ref: np.ndarray | None,
        common: dict,
        predictions: np.ndarray | None = None,
    ) -> dict:
        """`common` with the accuracy pass's figures and the engine's description; `logits` None: no accuracy (an
        --onnx model whose outputs cannot be matched to the dataset's classes)."""
        same = None if ref is None or logits is None else parity(ref, logits)
        info = dict(engine.describe())
        return dict(
            common,
            test_images=ev.count,
            unreadable=ev.unreadable,
            **(_accuracy_fields(logits, labels, len(ev.classes), predictions) if logits is not None else {}),
            engine_info=info,
            agreement_pct=None if same is None else 100 * same.top1_agreement,
            max_logit_diff=None if same is None else same.max_abs_diff,
            threads=info.get("threads", self.threads),
        )

    def engine_rows(
        self, name: str, v: Variant, engine: Any, size: int, common: dict, ev: EvalSet, pre: Preprocessing
    ) -> list[Record]:
        """The engine's timed rows: the model on tensors in memory at each batch, then (CompareConfig.end_to_end)
        from the image files at batch 1 and the largest batch."""
        rows = [self.timed_row(name, v, engine, size, b, common) for b in self.batches(v)]
        if not self.config.end_to_end:
            return rows
        e2e = replace(v, label=v.label + END_TO_END_SUFFIX)
        try:
            source = EndToEnd(ev.readable_paths(), pre)
        except Exception as e:
            self._guard(e)
            return rows + self.counted(  # counted, so that "row n/N" still reaches N
                [
                    _error_row(name, e2e, b, one_line(e), **common, timed="end to end")
                    for b in self.end_to_end_batches(v)
                ]
            )
        return rows + [self.timed_row(name, e2e, engine, size, b, common, source) for b in self.end_to_end_batches(v)]

    def timed_row(
        self,
        name: str,
        v: Variant,
        engine: Any,
        size: int,
        batch: int,
        common: dict,
        source: EndToEnd | None = None,
    ) -> Record:
        """One row: `engine` on a fixed random batch in memory, or (`source`) on a batch decoded from the image
        files on every call; the process's CPU and memory metered over the timing."""
        timed = "model" if source is None else "end to end"
        x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
        try:
            # the yardstick again, right before this row: the machine's load can change during a run
            row_cal = calibrate(v.device, ROW_CALIBRATION_TIMING).median_ms
            if source is None:
                m, usage = _metered(v.device, lambda: measure_engine(engine, x, self.config.timing))
            else:
                run = lambda: engine(source.batch(batch))  # noqa: E731 - decode, preprocess, then the model
                cuda = v.device == "cuda"  # decoded on the host: the copy to the device is in every call
                m, usage = _metered(
                    v.device,
                    lambda: measure(run, batch, self.config.timing, engine.synchronize, copies_included=cuda or None),
                )
        except Exception as e:
            self._guard(e)
            row = self.counted([_error_row(name, v, batch, one_line(e), **common, timed=timed)])[0]
            self.progress(f"{name} {v.label} {v.precision} batch {batch}: {one_line(e)}")
            return row
        lat = m.latency
        rate, fraction = achieved(common.get("gflops"), m.images_per_s, self.peaks.get(v.device), v.precision)
        extra: dict = dict(achieved_gflops=rate, peak_fraction=fraction, timed=timed, **usage)
        if v.device == "cuda":  # the host clock around each call: copies both ways included, one call at a time
            extra.update(copies_included=m.copies_included, synchronous=m.synchronous)
        if v.device == "cuda" and source is None:  # device-resident: the input already on the GPU, no copy
            try:
                r = measure_resident(engine, x, v.device, self.config.timing)
                extra = dict(
                    extra,
                    resident_p50_ms=r.latency.p50_ms,
                    resident_ips=r.images_per_s,
                    resident_clock=r.clock,
                    resident_host_p50_ms=r.host_latency.p50_ms if r.host_latency else None,
                )
            except Exception as e:
                self._guard(e)
                extra = dict(extra, engine_info=dict(common.get("engine_info", {}), resident_error=one_line(e)))
        record = self._record(name, v, batch, common, extra, m, row_cal)  # counted first: "row n/N" includes it
        self.progress(
            f"{name} {v.label} {v.precision} batch {batch} at {size} px ({timed}): p50 {lat.p50_ms:.2f} ms, "
            f"{m.images_per_s:.1f} img/s"
            + (f", {fraction:.0%} of peak" if fraction is not None else "")
            + (" (noisy)" if m.noisy else "")
        )
        return record

    def _record(self, name: str, v: Variant, batch: int, common: dict, extra: dict, m: Measurement, row_cal) -> Record:
        """A timed row's Record, counted."""
        lat = m.latency
        record = Record(
            name,
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
        return self.counted([record])[0]

    def foreign_rows(self) -> list[Record]:
        """The --onnx model's rows (ort-cpu fp32, like a zoo model's), over the zoo models' test split at the
        file's input size; accuracy only where its labels name every class of the dataset."""
        c, v = self.config, FOREIGN_VARIANT
        path = Path(str(c.onnx))
        name = path.name  # with its suffix: never taken for a zoo model of the same name
        common: dict[str, Any] = dict(threads=self.threads, file_format=v.format)
        try:
            data = self.data or DataConfig(dataset=c.dataset, data_root=c.data_root)
            common["file_bytes"] = file_bytes(path) if path.is_file() else None
            before, start = resident_mb(), time.perf_counter()
            engine = ForeignOnnx(path, self.threads, c.onnx_input_size)
            common.update(load_s=time.perf_counter() - start, engine_rss_mb=resident_mb() - before, export_s=0.0)
            ev = self.hooks.foreign_eval_set(data, engine.size, c, self.root)
            common.update(dataset=ev.dataset, split_hash=ev.split_hash, classes=ev.classes)
            common.update(input_size=engine.size, timing_size=engine.size)
            mapping, note = label_map(
                read_labels(c.onnx_labels) if c.onnx_labels else None, engine.classes, ev.classes, ev.dataset
            )
            logits, labels, first_s = _run_split(engine, ev)
            predicted = None if mapping is None else mapped_predictions(logits, mapping, len(ev.classes))
            common = self.accuracy_common(
                engine, ev, logits if mapping is not None else None, labels, None, common, predicted
            )
            common.update(first_call_s=first_s, accuracy_note=note)
        except Exception as e:
            self._guard(e)
            self.progress(f"{name}: {one_line(e)}")
            return self._error_rows(name, v, one_line(e), common)
        return self.engine_rows(name, v, engine, engine.size, common, ev, Preprocessing(crop=engine.size))


def _first_call(engine: Engine, batch: int, size: int) -> float:
    """Seconds of the engine's first call (on zeros at the timing batch and size)."""
    start = time.perf_counter()
    engine(torch.zeros(batch, 3, size, size))
    engine.synchronize()
    return time.perf_counter() - start


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
            "timed",
            "export_s",
            "load_s",
        )
        if k in common
    }
    return Record(model, v.label, v.engine, v.device, v.precision, batch, v.provider, error=error, **keep)


def _trained(results_root: Path, config: CompareConfig) -> list[TrainedModel]:
    """The zoo models to run; none is fine when an --onnx model is timed and no model was named."""
    try:
        return find_trained(results_root, config.dataset, config.models)
    except BenchError:
        if config.onnx is None or config.models:
            raise
        return []


def run_compare(
    config: CompareConfig,
    results_root: Path,
    hooks: Hooks = Hooks(),
    progress: Callable[[str], None] = lambda s: None,
    predictions_dir: Path | None = None,
    on_row: Callable[[int, int], None] = lambda done, total: None,
) -> CompareRun:
    """The matrix; with `predictions_dir`, each accuracy row's per-image predictions are saved there; `on_row(done,
    total)` after every row (for a progress line with the time left)."""
    variants = select_variants(list(config.engines or []), list(config.precisions or []))
    gpu_rows = any(v.device == "cuda" for v in variants) and cuda_available()
    if any(b < 1 for b in config.batch_sizes or ()):
        raise BenchError("batch sizes must be >= 1")
    if config.size is not None and config.size < 1:
        raise BenchError("the timing size must be >= 1 px")
    if config.onnx is None and (config.onnx_input_size is not None or config.onnx_labels is not None):
        raise BenchError("--input-size and --labels describe an --onnx FILE: give the file with --onnx")
    if config.onnx_input_size is not None and config.onnx_input_size < 1:
        raise BenchError("the --onnx model's input size must be >= 1 px")
    trained = _trained(results_root, config)
    previous_threads = torch.get_num_threads()
    threads = pin_threads(config.threads or usable_cpus())
    try:
        devices = ["cpu"] + (["cuda"] if gpu_rows else [])
        before = {d: calibrate(d, config.calibration) for d in devices}
        peaks = {}
        for d in devices:  # once per run, with the run's threads: what "% of peak" divides by
            try:
                peaks[d] = measure_peak(d, budget_s=config.peak_budget_s)
                progress(_peak_line(peaks[d], threads))
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
            peaks,
            predictions_dir,
            on_row,
        )
        matrix.total = len(trained) * sum(matrix.rows_of(v) for v in variants)
        matrix.total += matrix.rows_of(FOREIGN_VARIANT) if config.onnx is not None else 0
        records = [r for tm in trained for r in matrix.model_rows(tm)]
        records += matrix.foreign_rows() if config.onnx is not None else []
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


def _peak_line(p: Peak, threads: int) -> str:
    """The peak as compare says it: the measured rate, its spread over runs, the theoretical FMA peak, int8's."""
    d = p.to_dict()
    theory = d["theoretical_gflops_per_s"]
    return (
        f"{p.device} fp32 matrix-product peak: {p.gflops_per_s:.1f} GFLOP/s ({p.size}x{p.size}, {threads} threads"
        + (f", spread {p.spread:.1%} over {p.runs} runs" if p.spread is not None else "")
        + ")"
        + (f"; theoretical FMA peak {theory:.0f} GFLOP/s" if theory else "")
        + (f"; int8 limit: {p.int8_basis}" if p.int8_factor else "")
    )


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
