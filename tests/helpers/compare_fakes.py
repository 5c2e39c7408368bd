"""Shared fakes for the compare/report/check tests: tiny checkpoints, an in-memory test split, fake engines."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.artifacts import Artifact
from bench.compare import CompareConfig, Hooks, run_compare
from bench.records import CompareRun, Record
from bench.timing import TimingConfig
from engines.base import Engine
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.evalset import from_tensors
from mldrnet.data.transforms import Preprocessing
from mldrnet.io.layout import checkpoint_path

CLASSES = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
SIZE = 64
FAST = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=3, budget_s=0.0)


def write_checkpoint(root: Path, model: str = "mldrnet", dataset: str = "synth", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = models.create(model, num_classes=len(CLASSES))
    ckpt = Checkpoint.of_model(model, net, CLASSES, Preprocessing(crop=SIZE), data_config={"dataset": dataset})
    return ckpt.save(checkpoint_path(root, model, dataset))


class ModuleEngine(Engine):
    """Runs the nn.Module it is given, like the torch engine; `fail` makes every call raise."""

    name = "fake"

    def __init__(self, module, options, fail: str | None = None, noise: float = 0.0):
        self.module, self.options, self.fail, self.noise = module, options, fail, noise

    @torch.inference_mode()
    def __call__(self, batch):
        if self.fail:
            raise RuntimeError(self.fail)
        logits = self.module(batch)
        return logits + self.noise * torch.randn_like(logits) if self.noise else logits

    def describe(self):
        return {"engine": "fake", "threads": self.options.threads, "provider": self.options.provider}


def fake_hooks(
    n_images: int = 24, fail_engine: str | None = None, fail_message: str = "provider missing", noise: float = 0.0
) -> Hooks:
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(n_images, 3, SIZE, SIZE, generator=gen)
    labels = torch.arange(n_images) % len(CLASSES)

    def eval_set(ckpt, config, root):
        return from_tensors(images, labels, ckpt.classes, config.eval_batch_size, dataset="synth", split_hash="abc123")

    def artifact(variant, checkpoint, model, max_batch, results_root, data_root):
        return Artifact(model, checkpoint, 1000 if variant.format == "torch" else 2000)

    def engine(name, source, options):
        if name == fail_engine:
            return ModuleEngine(source, options, fail=fail_message)
        return ModuleEngine(source, options, noise=noise if name != "torch" else 0.0)

    return Hooks(eval_set=eval_set, artifact=artifact, engine=engine)


def fake_run(root: Path, models=("mldrnet",), hooks: Hooks | None = None, **config) -> CompareRun:
    for m in models:
        if not checkpoint_path(root, m, "synth").exists():
            write_checkpoint(root, m)
    cfg = CompareConfig(
        models=tuple(models),
        engines=("torch-cpu", "ort-cpu"),
        batch_sizes=(1, 4),
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
        **config,
    )
    return run_compare(cfg, root, hooks or fake_hooks())


def synthetic_run(rows: list[dict], cal_ms: float = 1.0, dataset: str = "synth") -> CompareRun:
    """A CompareRun made directly from row values (for the gate tests: no models run)."""
    base = dict(
        engine="torch",
        device="cpu",
        precision="fp32",
        accuracy_pct=60.0,
        agreement_pct=100.0,
        lat_p50_ms=10.0,
        throughput_ips=100.0,
        test_images=32,  # the gate compares rows measured alike only (bench.check.incomparable)
        input_size=64,
        timing_size=64,
    )
    records = tuple(Record.from_dict({**base, **r}) for r in rows)
    env = {"dataset": dataset, "split_hashes": ["abc123"], "threads": 2}
    return CompareRun(
        records,
        env,
        {},
        {
            "cpu": {
                "device": "cpu",
                "size": 384,
                "median_ms": cal_ms,
                "before_ms": cal_ms,
                "after_ms": cal_ms,
                "spread": 1.0,
            }
        },
    )


def cli_app():
    """The bench Typer app with every command registered (once, whichever test module asks first)."""
    from bench.cli import _register_commands, app

    if not any(c.name == "compare" for c in app.registered_commands):
        _register_commands()
    return app
