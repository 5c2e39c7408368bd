"""Training in the shape of torchvision's reference `train.py`: plain functions with named arguments.

    train_model(cfg, data_cfg, results_root)   prepare data, build the model (from ImageNet weights where asked:
                                               mldrnet.training.start; its zoo hooks may start it from another
                                               run), skip it when trained the same way, else `fit`
    fit(job)                                   resume_state -> per epoch: train_one_epoch, evaluate, save_epoch
                                               -> finish_and_test (the zoo's finish hook, the test pass, result.json)

Every epoch writes `last.pt` atomically (the whole state: weights, optimizer, RNG, history) and, when val
accuracy improves, `best.pt`; at the end the best weights are evaluated on the test split. `resume=True`
continues from `last.pt` after a kill at any moment. Each epoch reseeds torch from (seed, epoch) and the loader
shuffles with a generator seeded the same way, so on CPU a resumed run ends with exactly the weights of an
uninterrupted one. Nothing here names a model: what is special to one is a hook of its zoo entry.
Progress goes to an optional `TrainObserver` (the CLI draws it); warnings go through `logging`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.loader import make_loader
from mldrnet.data.prepare import DataConfig, PreparedData, prepare_data
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_text, remove_stale_temporaries, writable_dir
from mldrnet.io.jsonfile import read_json
from mldrnet.io.layout import TRAINING_FILES, RunFolder, run_key
from mldrnet.io.lock import exclusive
from mldrnet.io.provenance import near_chance
from mldrnet.training.config import TrainConfig
from mldrnet.training.distributed import DistContext, setup, teardown
from mldrnet.training.hooks import Start, TrainContext, describe_checkpoint, describe_training, hooks_for
from mldrnet.training.predictions import PREDICTIONS_FILE, Predictions, readable_paths
from mldrnet.training.source import source_hash
from mldrnet.training.start import ImageNetStart, imagenet_start

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    model: str
    run_dir: str = ""
    epochs: int = 0
    best_epoch: int = -1
    best_val_acc: float = float("nan")
    test_acc: float = float("nan")
    seconds: float = 0.0
    skipped: bool = False  # already trained with the same configuration
    error: str | None = None  # one line (mldrnet.errors.one_line) when the training failed
    how_trained: str = ""  # profile, epochs, input size, starting point (mldrnet.io.provenance)
    near_chance: bool = False  # val accuracy within a few points of chance: not trained to a usable level
    test_images: int = 0  # test images scored (readable); their predictions are the run's predictions.npz
    source_hash: str = ""  # the code it was trained with (mldrnet.training.source): part of the config hash

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


class TrainObserver:
    """Progress callbacks of one training run (rank 0 only); the default does nothing."""

    def start_run(self, model: str, epochs: int) -> None: ...
    def start_epoch(self, epoch: int, batches: int) -> None: ...
    def batch(self, loss: float, images_per_s: float) -> None: ...
    def end_epoch(self, metrics: dict) -> None: ...
    def end_run(self) -> None: ...


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    if cfg.schedule == "constant" or cfg.epochs <= 1:
        return cfg.lr
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * epoch / cfg.epochs))  # cosine decay, per epoch


def _forward_eval(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    if images.dim() == 5:  # (B, 5, 3, H, W): five-crop test-time augmentation, mean of the crops' logits
        b, n = images.shape[:2]
        return model(images.flatten(0, 1)).view(b, n, -1).mean(dim=1)
    return model(images)


@torch.no_grad()
def predict(model: nn.Module, loader, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(logits, labels, n_unreadable) over a loader, in eval mode."""
    model.eval()
    all_logits, all_labels, unreadable = [], [], 0
    for images, labels, bad in loader:
        unreadable += int(bad)
        if len(labels) == 0:
            continue
        all_logits.append(_forward_eval(model, images.to(device)).float().cpu())
        all_labels.append(labels)
    if not all_logits:
        return torch.zeros(0), torch.zeros(0, dtype=torch.long), unreadable
    return torch.cat(all_logits), torch.cat(all_labels), unreadable


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean()) if len(labels) else float("nan")


def evaluate(model: nn.Module, loader, device: torch.device) -> float:
    logits, labels, _ = predict(model, loader, device)
    return accuracy(logits, labels)


def _all_have_data(has_data: bool, ctx: DistContext | None, device) -> bool:
    """Under DDP every process must run the same number of backward passes or the gradient all-reduce hangs:
    a batch whose images were all unreadable on one process is skipped by all of them."""
    if ctx is None or not ctx.enabled:
        return has_data
    flag = torch.tensor([int(has_data)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def _global_sums(values: list[float], ctx: DistContext | None, device) -> list[float]:
    if ctx is None or not ctx.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


class Diverged(BenchError):
    """The loss or the weights stopped being finite numbers; fit adds which epoch and what was kept."""


def _grads_finite(optimizer) -> bool:
    """Whether every gradient the optimizer would apply is finite (one host sync, no collective)."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()) if grads else True


def _validation_accuracy(model: nn.Module, loader, device, ctx: DistContext) -> float:
    """Validation accuracy. Under DDP every process evaluates its own shard of the images (`_val_shard`) with
    rank 0's batch-norm statistics, and one all-reduce sums the counts: not rank 0 alone while the others wait."""
    if not ctx.enabled:
        return evaluate(model, loader, device)
    for buffer in model.buffers():  # the running statistics rank 0 saves, on every process
        dist.broadcast(buffer, 0)
    logits, labels, _ = predict(model, loader, device)
    right = float((logits.argmax(1) == labels).sum()) if len(labels) else 0.0
    right, total = _global_sums([right, float(len(labels))], ctx, device)
    return right / total if total else float("nan")


def _val_shard(samples, ctx: DistContext):
    """This process's share of the validation images: every world_size-th from its rank (no padding, so no image
    is counted twice)."""
    return samples[ctx.rank :: ctx.world_size] if ctx.enabled else samples


def first_non_finite(model: nn.Module) -> str | None:
    """The name of the first weight or buffer with a NaN or an infinity, or None."""
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


def train_one_epoch(
    model, loader, optimizer, device, cfg: TrainConfig, progress: TrainObserver | None, ctx: DistContext | None = None
) -> dict:
    """One pass over the loader; the returned figures cover every process (images/s is the global rate).
    A non-finite loss raises `Diverged` before its backward pass, so the weights of the last step stay. A batch of
    one image (the last of an epoch of 129 images at batch 64, or a batch whose other images were unreadable) is
    skipped by a model with batch norm, which cannot normalise a single value per channel in training mode."""
    model.train()
    smallest = 2 if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()) else 1
    criterion = nn.CrossEntropyLoss()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cfg.bf16 and device.type == "cuda" else nullcontext()
    seen = unreadable = 0
    correct = torch.zeros((), dtype=torch.long, device=device)  # summed on the device: no host sync per batch
    loss_sum, data_wait, start = 0.0, 0.0, time.perf_counter()
    batch_start = start
    for images, labels, bad in loader:
        data_wait += time.perf_counter() - batch_start
        unreadable += int(bad)
        if not _all_have_data(len(labels) >= smallest, ctx, device):
            batch_start = time.perf_counter()
            continue
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        if cfg.channels_last and device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast:
            logits = model(images)
            loss = criterion(logits, labels)
        loss_value = loss.item()  # the one sync per batch, before the step: a non-finite loss never reaches the weights
        distributed = ctx is not None and ctx.enabled
        if not distributed and not math.isfinite(loss_value):
            raise Diverged(f"the training loss became {loss_value} after {seen} images of the epoch")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # under DDP no all-reduce of its own: a non-finite loss on any process makes the averaged gradients
        # non-finite on every process (DDP's gradient all-reduce carries it), so all of them stop here, together
        if distributed and not _grads_finite(optimizer):
            raise Diverged(
                f"the training loss became {loss_value if not math.isfinite(loss_value) else 'non-finite'} "
                f"{'here' if not math.isfinite(loss_value) else 'on another process'} after {seen} images of the epoch"
            )
        optimizer.step()
        seen += len(labels)
        loss_sum += loss_value * len(labels)
        correct += (logits.argmax(1) == labels).sum()
        elapsed = time.perf_counter() - start
        if progress:
            progress.batch(loss=loss_value, images_per_s=seen / elapsed)
        batch_start = time.perf_counter()
    elapsed = time.perf_counter() - start
    total, right, loss_total, bad = _global_sums([seen, int(correct), loss_sum, unreadable], ctx, device)
    return {
        "train_loss": loss_total / max(total, 1),
        "train_acc": right / max(total, 1),
        "images": int(total),
        "unreadable": int(bad),
        "seconds": elapsed,
        "images_per_s": total / elapsed if elapsed else 0.0,
        "data_share": data_wait / elapsed if elapsed else 0.0,
    }


# --- one run: what it trains, where, and its state between epochs --------------------------------------------


@dataclass
class TrainJob:
    cfg: TrainConfig
    data_cfg: DataConfig
    data: PreparedData
    run: RunFolder
    model: nn.Module
    config_hash: str
    ctx: DistContext
    prep: Preprocessing
    observer: TrainObserver | None = None

    def context(self) -> TrainContext:
        return TrainContext(
            cfg=self.cfg, data=self.data, run=self.run, prep=self.prep, device=self.ctx.device, observer=self.observer
        )

    def checkpoint(self, model: nn.Module | None = None, **training) -> Checkpoint:
        return Checkpoint.of_model(
            self.cfg.model,
            model or self.model,
            self.data.classes,
            self.prep,
            model_config=dict(self.cfg.model_config),
            train_config=self.cfg.to_dict(),
            data_config=asdict(self.data_cfg),
            dataset=self.data.name,
            split_hash=self.data.split_hash,
            config_hash=self.config_hash,
            **training,
        )


@dataclass
class TrainState:
    start_epoch: int = 0  # epochs already done (counted from 1)
    history: list = field(default_factory=list)
    best_val: float = -1.0
    best_epoch: int = -1


def _already_trained(run: RunFolder, config_hash: str) -> dict | None:
    """result.json, when it and best.pt say the run is done with this configuration: the summary is readable, of
    the right types and finite, has this config hash, and its numbers are best.pt's; best.pt loads, carries the
    same hash and has finite weights. Anything else (a half-written run, a mix of two runs, a diverged one, a
    hand-edited summary) is trained again rather than trusted; so is a run without its per-image predictions."""
    if not run.result.is_file() or not run.checkpoint.is_file() or not (run.path / PREDICTIONS_FILE).is_file():
        return None
    try:
        done = read_json(run.result, max_bytes=1 << 20)
    except BenchError:
        return None  # unreadable summary: train again rather than trust it
    if not isinstance(done, dict) or done.get("config_hash") != config_hash:
        return None
    try:
        best = Checkpoint.load(run.checkpoint).require_finite()
    except BenchError as e:
        log.warning(f"{run.path} has a result.json but its best.pt cannot be used ({e}): training again")
        return None
    if best.config_hash != config_hash:
        return None
    wrong = result_disagrees(done, best)
    if wrong:
        log.warning(f"{run.result} {wrong}: training again rather than trusting it")
        return None
    return done


RESULT_NUMBERS = {  # result.json field -> the checkpoint's, which is what counts
    "best_val_acc": "best_val_acc",
    "test_acc": "test_acc",
    "best_epoch": "epoch",
}


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def result_disagrees(done: dict, best: Checkpoint) -> str | None:
    """Why a result.json cannot stand for its best.pt (a wrong type, a number that is not finite or differs from
    the checkpoint's), or None."""
    for key, kind in (("model", str), ("epochs", int), ("seconds", (int, float)), ("how_trained", str)):
        value = done.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            return f"has {key} = {str(value)[:40]!r} of the wrong type"
    if done.get("model") not in (None, best.model):
        return f"is a result of {str(done.get('model'))[:40]!r}, best.pt of {best.model}"
    for key, attr in RESULT_NUMBERS.items():
        value, truth = done.get(key), getattr(best, attr)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            return f"has {key} = {str(value)[:40]!r}, not a finite number"
        if truth is None or abs(value - truth) > 1e-9:
            return f"says {key} {value:g}, best.pt {truth}"
    return None


def _skipped(done: dict, run: RunFolder) -> TrainResult:
    """The result of a run already trained the same way (result.json files of older versions lack its provenance:
    then from best.pt)."""
    fields = {k: done[k] for k in TrainResult.__dataclass_fields__ if k in done and k != "error"}
    if "how_trained" not in done:  # a result.json of an older version: read it from best.pt
        best = Checkpoint.load(run.checkpoint)
        fields.update(how_trained=describe_checkpoint(best), near_chance=best.near_chance)
    return TrainResult(**{**fields, "skipped": True})


def _require_epochs(cfg: TrainConfig, start: Start | None) -> None:
    """At least one epoch, unless the zoo's start hook made the model whole without any (alexnet-svm from the
    trained alexnet: epochs=0 and then its finish hook)."""
    if cfg.epochs < 1 and not (start is not None and start.epochs == 0):
        raise BenchError(f"--epochs {cfg.epochs}: {cfg.model} needs at least 1 epoch of training")


def require_eval_images(data: PreparedData) -> None:
    """A training needs images to choose its best epoch on (val) and to report (test): without them it would say
    "trained" with a val accuracy of -1 and a test accuracy of NaN."""
    missing = [name for name, part in (("train", data.train), ("val", data.val), ("test", data.test)) if not part]
    if missing:
        raise BenchError(
            f"{data.name} has no {' and no '.join(missing)} images ({len(data.train)} train, {len(data.val)} val, "
            f"{len(data.test)} test): use a larger set (the synthetic set: --synth-n 96 or more) or a split with "
            "every part"
        )


def _require_finite_options(cfg: TrainConfig) -> None:
    for name in ("lr", "momentum", "weight_decay"):
        value = getattr(cfg, name)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BenchError(f"--{name.replace('_', '-')} {value}: must be a finite number")


@contextmanager
def writing(run: RunFolder):
    """The run folder, created, checked writable and locked for this process (one writer per run folder); the
    temporaries of killed writes of its training files are removed once the lock is held."""
    writable_dir(run.path, "run folder")
    with exclusive(run.lock, f"the run folder {run.path}"):
        for name in (*TRAINING_FILES, PREDICTIONS_FILE):
            remove_stale_temporaries(run.path / name)
        yield run


def with_start(cfg: TrainConfig) -> tuple[TrainConfig, ImageNetStart | None]:
    """`cfg` with its start named (mldrnet.training.start) and that start; a model without an ImageNet start drops
    --pretrained / --weights (train-all and reproduce pass them to every model): it trains from scratch, and its
    config hash, run key and how-trained are those of a run asked for without them."""
    imagenet = imagenet_start(cfg.model, cfg.pretrained, cfg.weights_path)
    if imagenet is None:
        return replace(cfg, pretrained=False, weights_path=None, start=None), None
    return replace(cfg, start=imagenet.tag), imagenet


def initial_model(
    cfg: TrainConfig, data, run: RunFolder, imagenet: ImageNetStart | None = None
) -> tuple[nn.Module, Start | None]:
    """The model from the zoo (with the ImageNet weights of `imagenet`, the file `with_start` found), then its zoo
    entry's start hook, which may initialise it from another run."""
    options = {"weights_path": str(imagenet.file)} if imagenet else {}
    model = models.create(cfg.model, num_classes=len(data.classes), **options, **cfg.model_config)
    hook = hooks_for(cfg.model).start
    prep = Preprocessing(crop=cfg.crop, resize=cfg.resize)
    return model, hook(model, TrainContext(cfg=cfg, data=data, run=run, prep=prep)) if hook else None


def train_model(
    cfg: TrainConfig,
    data_cfg,
    results_root: Path,
    *,
    resume: bool = False,
    force: bool = False,
    observer: TrainObserver | None = None,
) -> TrainResult:
    _require_finite_options(cfg)
    cfg, imagenet = with_start(cfg)  # a missing weights file fails here, before any data work
    if hooks_for(cfg.model).start is None:
        _require_epochs(cfg, None)  # before any work; with a start hook, once it has said how many it needs
    ctx = setup(cfg.device)
    try:
        if ctx.is_main:
            writable_dir(results_root, "results folder")  # one line, before the data layer writes anything
            data = prepare_data(data_cfg, results_root)  # writes the split file once
        ctx.barrier()
        if not ctx.is_main:
            data = prepare_data(data_cfg, results_root)
        require_eval_images(data)  # before the run folder: a training nobody can judge is not started
        key = run_key(data_cfg, data, cfg.seed) + (imagenet.key_suffix if imagenet else "")
        run = RunFolder.at(results_root, cfg.model, key)
        with writing(run) if ctx.is_main else nullcontext():  # rank 0 writes; the others only compute
            torch.manual_seed(cfg.seed)  # the initial weights, identical in every process and every rerun
            model, start = initial_model(cfg, data, run, imagenet)
            if start and start.epochs is not None:
                cfg = replace(cfg, epochs=start.epochs)
            _require_epochs(cfg, start)
            extra = {
                "data": asdict(data_cfg),
                "split": data.split_hash,
                "backbone": start.source if start else None,
                "source": source_hash(),  # the code: a run trained by other code is not reused
            }
            init = models.init_tag(cfg.model, cfg.pretrained, cfg.weights_path)
            config_hash = cfg.fingerprint({**extra, "init": init} if init else extra)
            done = None if force or resume else _already_trained(run, config_hash)
            if done:
                return _skipped(done, run)
            job = TrainJob(
                cfg, data_cfg, data, run, model, config_hash, ctx, Preprocessing(crop=cfg.crop, resize=cfg.resize)
            )
            return fit(job, resume=resume, observer=observer if ctx.is_main else None)
    finally:
        teardown(ctx)


def fit(job: TrainJob, *, resume: bool = False, observer: TrainObserver | None = None) -> TrainResult:
    t0 = time.perf_counter()
    cfg, ctx, device = job.cfg, job.ctx, job.ctx.device
    job.observer = observer
    job.model.to(device)
    if cfg.channels_last and device.type == "cuda":
        job.model = job.model.to(memory_format=torch.channels_last)
    # a model with nothing to train by gradient descent (hand-crafted features: its finish hook fits it) has no
    # optimizer
    params = [p for p in job.model.parameters() if p.requires_grad]
    optimizer = (
        torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay) if params else None
    )
    state = resume_state(job, optimizer) if resume else TrainState()
    trained = DistributedDataParallel(job.model) if ctx.enabled and params else job.model
    per_process_batch = max(1, cfg.batch_size // ctx.world_size)
    val_loader = make_loader(
        _val_shard(job.data.val, ctx),
        job.prep,
        train=False,
        tta=cfg.tta,
        batch_size=per_process_batch,
        workers=cfg.workers,
    )
    if observer:
        observer.start_run(cfg.model, cfg.epochs)
    try:
        for epoch in range(state.start_epoch, cfg.epochs):
            loader = _epoch_loader(job, epoch, per_process_batch)
            assert optimizer is not None  # only a model with parameters gets epochs (hand-crafted ones get 0)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, epoch)
            if observer:
                observer.start_epoch(epoch, len(loader))
            try:
                stats = train_one_epoch(trained, loader, optimizer, device, cfg, observer, ctx)
                broken = first_non_finite(job.model)
                if broken:
                    raise Diverged(f"the weights became non-finite (NaN or inf in {broken})")
            except Diverged as e:
                raise _diverged(job, state, epoch, e) from None
            val_acc = _validation_accuracy(job.model, val_loader, device, ctx)  # on every process
            if ctx.is_main:
                metrics = {"epoch": epoch + 1, "lr": lr_at(cfg, epoch), **stats, "val_acc": val_acc}
                save_epoch(job, state, metrics, optimizer)
                if observer:
                    observer.end_epoch(metrics)
            ctx.barrier()
    finally:
        if observer:
            observer.end_run()
    if not ctx.is_main:
        return TrainResult(cfg.model, str(job.run.path), cfg.epochs, state.best_epoch, state.best_val)
    return finish_and_test(job, state, started=t0)


def _epoch_loader(job: TrainJob, epoch: int, batch_size: int):
    """The training batches of one epoch: crops, flips, dropout and the order are a function of (seed, epoch)."""
    cfg, ctx = job.cfg, job.ctx
    torch.manual_seed(cfg.seed * 1000 + epoch)
    sampler: DistributedSampler | None = None
    if ctx.enabled:  # a list of (path, label) is a map-style dataset
        sampler = DistributedSampler(job.data.train, ctx.world_size, ctx.rank, seed=cfg.seed)  # type: ignore[arg-type]
        sampler.set_epoch(epoch)
    return make_loader(
        job.data.train,
        job.prep,
        train=True,
        batch_size=batch_size,
        shuffle=sampler is None,
        seed=cfg.seed * 1000 + epoch,
        workers=cfg.workers,
        sampler=sampler,
        pin_memory=ctx.device.type == "cuda",
    )  # so that non_blocking copies really overlap


def _diverged(job: TrainJob, state: TrainState, epoch: int, e: Diverged) -> BenchError:
    """The one line of a diverged run: which epoch, why, and which checkpoints of the last good epoch stay."""
    if state.history:
        kept = (
            f"{job.run.last.name} of epoch {state.history[-1]['epoch']} and {job.run.checkpoint.name} of epoch "
            f"{state.best_epoch} are kept"
        )
    else:
        kept = "nothing was saved"
    return BenchError(
        f"{job.cfg.model} diverged in epoch {epoch + 1} (lr {lr_at(job.cfg, epoch):g}): {e}; stopped: "
        f"{kept} in {job.run.path}: train again with a lower --lr"
    )


def resume_state(job: TrainJob, optimizer) -> TrainState:
    """The state in last.pt, checked against this run (same model, classes and configuration)."""
    if not job.run.last.is_file():
        if job.ctx.is_main:
            log.warning(f"nothing to resume in {job.run.path}: starting from epoch 1")
        return TrainState()
    last = Checkpoint.load(job.run.last)
    if last.model != job.cfg.model or last.classes != tuple(job.data.classes):
        raise BenchError(
            f"{job.run.last} is a checkpoint of {last.model} with classes {list(last.classes)}, "
            f"not of {job.cfg.model} on {job.data.name}: remove it or train without --resume"
        )
    if last.config_hash != job.config_hash or last.optimizer is None:
        raise BenchError(
            f"{job.run.last} was trained with another configuration: use the same options to "
            "resume, or start again without --resume"
        )
    job.model.load_state_dict(last.state_dict)
    optimizer.load_state_dict(last.optimizer)
    best_val = -1.0 if last.best_val_acc is None else last.best_val_acc
    return TrainState(
        last.epoch, list(last.history), best_val, -1 if last.best_epoch is None else last.best_epoch
    )  # epochs from 1: all done


def save_epoch(job: TrainJob, state: TrainState, metrics: dict, optimizer) -> None:
    """Record the epoch; best.pt when val accuracy improved; last.pt (everything --resume needs) and
    metrics.jsonl every epoch."""
    state.history.append(metrics)
    epoch = metrics["epoch"]
    if metrics["val_acc"] > state.best_val:
        state.best_val, state.best_epoch = metrics["val_acc"], epoch
        job.checkpoint(epoch=epoch, best_val_acc=state.best_val, history=state.history).save(job.run.checkpoint)
    job.checkpoint(
        epoch=epoch,
        history=state.history,
        optimizer=optimizer.state_dict(),
        best_val_acc=state.best_val,
        best_epoch=state.best_epoch,
        rng=torch.get_rng_state(),
    ).save(job.run.last)
    # rewritten whole from the checkpoint's history, so it never disagrees with it
    atomic_write_text(job.run.metrics, "".join(json.dumps(h) + "\n" for h in state.history))


def finish_and_test(job: TrainJob, state: TrainState, started: float) -> TrainResult:
    """The best weights, the zoo entry's finish hook, the test pass; best.pt and result.json written last."""
    cfg, device, model = job.cfg, job.ctx.device, job.model
    if job.run.checkpoint.is_file():
        model.load_state_dict(Checkpoint.load(job.run.checkpoint).state_dict)
    finish = hooks_for(cfg.model).finish
    if finish:
        val_acc = finish(model, job.context())
        if val_acc is not None:
            state.best_val, state.best_epoch = val_acc, max(state.best_epoch, 0)
    test_loader = make_loader(
        job.data.test,
        job.prep,
        train=False,
        tta=cfg.tta,
        batch_size=max(1, cfg.batch_size // job.ctx.world_size),
        workers=cfg.workers,
    )
    test_logits, test_labels, unreadable = predict(model, test_loader, device)
    test_acc = accuracy(test_logits, test_labels)
    if not math.isfinite(test_acc) or not 0.0 <= state.best_val <= 1.0:
        raise BenchError(
            f"{cfg.model}: none of the {len(job.data.test)} test images could be read ({unreadable} unreadable), "
            f"or no val accuracy was measured: nothing to report; check the dataset with `bench data verify`"
        )
    _save_predictions(job, readable_paths(job.data.test, test_loader.unreadable), test_labels, test_logits)
    # this process's time, the finish hook and the test pass included, plus the epochs done before a resume
    seconds = time.perf_counter() - started + sum(h["seconds"] for h in state.history[: state.start_epoch])
    result = TrainResult(
        cfg.model,
        str(job.run.path),
        cfg.epochs,
        state.best_epoch,
        state.best_val,
        test_acc,
        seconds,
        how_trained=describe_training(cfg.model, cfg.to_dict(), len(state.history) or None),
        near_chance=near_chance(state.best_val, len(job.data.classes)),
        test_images=len(test_labels),
        source_hash=source_hash(),
    )
    job.checkpoint(
        model.cpu(), epoch=state.best_epoch, best_val_acc=state.best_val, test_acc=test_acc, history=state.history
    ).save(job.run.checkpoint)
    atomic_write_text(
        job.run.result,
        json.dumps(
            {**result.to_dict(), "config_hash": job.config_hash, "test_unreadable": unreadable},
            indent=2,
            allow_nan=False,
        ),
    )
    return result


def _save_predictions(job: TrainJob, paths: list[str], labels: torch.Tensor, logits: torch.Tensor) -> None:
    """The test pass per image (path, label, probabilities) beside result.json, for paired comparisons."""
    if len(paths) != len(labels):  # a path skipped twice, or a loader that lost count: no file rather than a wrong one
        log.warning(f"{job.run.path}: {len(paths)} test paths for {len(labels)} predictions: no {PREDICTIONS_FILE}")
        return
    meta = {"model": job.cfg.model, "dataset": job.data.name, "split_hash": job.data.split_hash, "split": "test"}
    Predictions.from_logits(paths, labels.numpy(), logits.numpy(), job.data.classes, **meta).save(
        job.run.path / PREDICTIONS_FILE
    )
