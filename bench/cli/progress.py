"""Training progress as the CLI draws it: one rich bar per epoch with loss, images/s and ETA (unless
`bars=False`, for logs and CI), and one line per finished epoch either way (never wrapped in a log)."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench.cli.console import err, info
from mldrnet.training.loop import TrainObserver


class EpochProgress(TrainObserver):
    def __init__(self, bars: bool = True):
        self.bars = bars
        self.model, self.epochs = "", 0
        self.progress: Progress | None = None
        self.task = None

    def start_run(self, model: str, epochs: int) -> None:
        self.model, self.epochs = model, epochs
        self.progress = Progress(
            TextColumn("[bold]{task.fields[model]}[/] epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("{task.fields[ips]:.0f} img/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not self.bars,
        )
        self.progress.start()
        self.task = None

    def end_run(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def start_epoch(self, epoch: int, batches: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(
            "train", total=batches, model=self.model, epoch=epoch + 1, epochs=self.epochs, loss=float("nan"), ips=0.0
        )

    def batch(self, loss: float, images_per_s: float) -> None:
        self.progress.update(self.task, advance=1, loss=loss, ips=images_per_s)

    def end_epoch(self, m: dict) -> None:
        info(
            f"{self.model} epoch {m['epoch']}/{self.epochs}: loss {m['train_loss']:.3f}  train acc "
            f"{m['train_acc']:.3f}  val acc {m['val_acc']:.3f}  {m['images_per_s']:.0f} img/s  "
            f"data {m['data_share']:.0%}  lr {m['lr']:.4g}"
        )
