"""Training: plain functions in the style of torchvision's reference `train.py`.

`train_model(cfg, data_cfg, results_root)` trains one model: every epoch writes `last.pt` atomically (the
whole state: weights, optimizer, RNG, history) and, when val accuracy improves, `best.pt`; at the end the best
weights are evaluated on the test split. `resume=True` continues from `last.pt` after a kill at any moment.
Each epoch reseeds torch from (seed, epoch) and the loader shuffles with a generator seeded the same way, so
on CPU a resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from bench.paths import run_dir, run_key
from mldrnet import zoo
from mldrnet.atomic import atomic_write_text
from mldrnet.checkpoint import FORMAT, load_checkpoint, save_atomic
from mldrnet.distributed import DistContext, setup, teardown
from mldrnet.errors import BenchError
from mldrnet.preprocess import Preprocessing
from mldrnet.train_config import TrainConfig
from mldrnet.train_progress import EpochProgress


@dataclass(frozen=True)
class TrainResult:
    model: str
    run_dir: str
    epochs: int
    best_epoch: int
    best_val_acc: float
    test_acc: float
    seconds: float
    skipped: bool = False  # already trained with the same configuration

    def to_dict(self) -> dict:
        return asdict(self)


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


def train_one_epoch(model, loader, optimizer, device, cfg: TrainConfig, progress: EpochProgress | None,
                    ctx: DistContext | None = None) -> dict:
    """One pass over the loader; the returned figures cover every process (images/s is the global rate)."""
    model.train()
    criterion = nn.CrossEntropyLoss()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cfg.bf16 and device.type == "cuda" else nullcontext()
    seen = correct = unreadable = 0
    loss_sum, data_wait, start = 0.0, 0.0, time.perf_counter()
    batch_start = start
    for images, labels, bad in loader:
        data_wait += time.perf_counter() - batch_start
        unreadable += int(bad)
        if not _all_have_data(len(labels) > 0, ctx, device):
            batch_start = time.perf_counter()
            continue
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        if cfg.channels_last and device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast:
            logits = model(images)
            loss = criterion(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(labels)
        loss_sum += loss.item() * len(labels)
        correct += int((logits.argmax(1) == labels).sum())
        elapsed = time.perf_counter() - start
        if progress:
            progress.batch(loss=loss.item(), images_per_s=seen / elapsed)
        batch_start = time.perf_counter()
    elapsed = time.perf_counter() - start
    seen, correct, loss_sum, unreadable = _global_sums([seen, correct, loss_sum, unreadable], ctx, device)
    return {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1), "images": int(seen),
            "unreadable": int(unreadable), "seconds": elapsed, "images_per_s": seen / elapsed if elapsed else 0.0,
            "data_share": data_wait / elapsed if elapsed else 0.0}


def _checkpoint(cfg, data, data_cfg, prep, model, config_hash, **extra) -> dict:
    return {"format": FORMAT, "model": cfg.model, "model_config": dict(cfg.model_config),
            "classes": list(data.classes), "preprocessing": prep.to_dict(), "train_config": cfg.to_dict(),
            "data_config": asdict(data_cfg), "dataset": data.name, "split_hash": data.split_hash,
            "config_hash": config_hash, "state_dict": model.state_dict(), **extra}


def _write_metrics(path: Path, history: list[dict]) -> None:
    # rewritten whole from the checkpoint's history, so it never disagrees with it
    atomic_write_text(path, "".join(json.dumps(h) + "\n" for h in history))


def _already_trained(run: Path, config_hash: str) -> dict | None:
    result = run / "result.json"
    if not result.is_file() or not (run / "best.pt").is_file():
        return None
    try:
        done = json.loads(result.read_text())
    except (OSError, ValueError):
        return None  # unreadable summary: train again rather than trust it
    return done if done.get("config_hash") == config_hash else None


def train_model(cfg: TrainConfig, data_cfg, results_root: Path, *, resume: bool = False, force: bool = False,
                show_progress: bool = True) -> TrainResult:
    from mldrnet.data import prepare_data  # the data layer pulls in PIL/transforms; keep CLI start-up light
    from mldrnet.train_backbone import epochs_for, initial_model

    ctx = setup(cfg.device)
    try:
        if ctx.is_main:
            data = prepare_data(data_cfg, results_root)  # writes the split file once
        ctx.barrier()
        if not ctx.is_main:
            data = prepare_data(data_cfg, results_root)
        run = run_dir(results_root, cfg.model, run_key(data_cfg, data))
        torch.manual_seed(cfg.seed)  # the initial weights, identical in every process and every rerun
        model, backbone = initial_model(cfg, data, run.parent)
        cfg = epochs_for(cfg, backbone)
        config_hash = cfg.fingerprint({"data": asdict(data_cfg), "split": data.split_hash, "backbone": backbone})
        done = None if force or resume else _already_trained(run, config_hash)
        if done:
            return TrainResult(**{**{k: done[k] for k in TrainResult.__dataclass_fields__ if k in done},
                                  "skipped": True})
        return _fit(cfg, data_cfg, data, model, run, config_hash, ctx, resume, show_progress)
    finally:
        teardown(ctx)


def _fit(cfg, data_cfg, data, model, run: Path, config_hash: str, ctx: DistContext, resume: bool,
         show_progress: bool) -> TrainResult:
    from mldrnet.data import make_loader
    from mldrnet.train_backbone import finish_model

    t0 = time.perf_counter()
    prep = Preprocessing(crop=cfg.crop, resize=cfg.resize)
    device = ctx.device
    model.to(device)
    if cfg.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    history: list[dict] = []
    start_epoch, best_val, best_epoch = 0, -1.0, -1
    last_path, best_path = run / "last.pt", run / "best.pt"

    if resume and last_path.is_file():
        state = load_checkpoint(last_path)
        if state["model"] != cfg.model or state["classes"] != list(data.classes):
            raise BenchError(f"{last_path} is a checkpoint of {state['model']} with classes {state['classes']}, "
                             f"not of {cfg.model} on {data.name}: remove it or train without --resume")
        if state["config_hash"] != config_hash:
            raise BenchError(f"{last_path} was trained with another configuration: use the same options to "
                             "resume, or start again without --resume")
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history = state["epoch"], state["history"]  # epochs are counted from 1: all done
        best_val, best_epoch = state["best_val_acc"], state["best_epoch"]
    elif resume and ctx.is_main:
        from bench.console import warn

        warn(f"nothing to resume in {run}: starting from epoch 1")

    train_model_ = DistributedDataParallel(model) if ctx.enabled else model
    per_process_batch = max(1, cfg.batch_size // ctx.world_size)
    val_loader = make_loader(data.val, prep, train=False, tta=cfg.tta, batch_size=per_process_batch,
                             workers=cfg.workers)
    progress = EpochProgress(cfg.model, cfg.epochs, bars=show_progress) if ctx.is_main else None
    with progress or nullcontext():
        for epoch in range(start_epoch, cfg.epochs):
            torch.manual_seed(cfg.seed * 1000 + epoch)  # crops, flips, dropout: a function of (seed, epoch)
            sampler = DistributedSampler(data.train, ctx.world_size, ctx.rank, seed=cfg.seed) if ctx.enabled else None
            if sampler:
                sampler.set_epoch(epoch)
            loader = make_loader(data.train, prep, train=True, batch_size=per_process_batch, shuffle=sampler is None,
                                 seed=cfg.seed * 1000 + epoch, workers=cfg.workers, sampler=sampler)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, epoch)
            if progress:
                progress.start_epoch(epoch, len(loader))
            stats = train_one_epoch(train_model_, loader, optimizer, device, cfg, progress, ctx)
            if ctx.is_main:
                logits, labels, _ = predict(model, val_loader, device)
                val_acc = accuracy(logits, labels)
                history.append({"epoch": epoch + 1, "lr": lr_at(cfg, epoch), **stats, "val_acc": val_acc})
                if progress:
                    progress.end_epoch(history[-1])
                if val_acc > best_val:
                    best_val, best_epoch = val_acc, epoch + 1
                    save_atomic(_checkpoint(cfg, data, data_cfg, prep, model, config_hash, epoch=epoch + 1,
                                            best_val_acc=best_val, history=history), best_path)
                save_atomic(_checkpoint(cfg, data, data_cfg, prep, model, config_hash, epoch=epoch + 1, history=history,
                                        optimizer=optimizer.state_dict(), best_val_acc=best_val,
                                        best_epoch=best_epoch, rng=torch.get_rng_state()), last_path)
                _write_metrics(run / "metrics.jsonl", history)
            ctx.barrier()

    if not ctx.is_main:
        return TrainResult(cfg.model, str(run), cfg.epochs, best_epoch, best_val, float("nan"), 0.0)
    if best_path.is_file():
        model.load_state_dict(load_checkpoint(best_path)["state_dict"])
    # alexnet-svm fits its SVM head here; other models are unchanged
    best_val, best_epoch = finish_model(model, cfg, data, prep, device, best_val, best_epoch)
    test_loader = make_loader(data.test, prep, train=False, tta=cfg.tta, batch_size=per_process_batch,
                              workers=cfg.workers)
    test_logits, test_labels, unreadable = predict(model, test_loader, device)
    test_acc = accuracy(test_logits, test_labels)
    seconds = time.perf_counter() - t0 + sum(h["seconds"] for h in history[:start_epoch])
    result = TrainResult(cfg.model, str(run), cfg.epochs, best_epoch, best_val, test_acc, seconds)
    save_atomic(_checkpoint(cfg, data, data_cfg, prep, model.cpu(), config_hash, epoch=best_epoch,
                            best_val_acc=best_val, test_acc=test_acc, history=history), best_path)
    atomic_write_text(run / "result.json", json.dumps({**result.to_dict(), "config_hash": config_hash,
                                                        "test_unreadable": unreadable}, indent=2))
    return result
