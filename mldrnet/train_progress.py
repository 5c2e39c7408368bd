"""Rich progress for training: one bar per epoch with loss, images/s and ETA (unless `bars=False`, for logs
and CI), and a line per finished epoch either way."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench.console import err


class EpochProgress:
    def __init__(self, model: str, epochs: int, bars: bool = True):
        self.model, self.epochs, self.bars = model, epochs, bars
        self.progress = Progress(
            TextColumn("[bold]{task.fields[model]}[/] epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("{task.fields[ips]:.0f} img/s"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=err, transient=True, disable=not bars,
        )
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def start_epoch(self, epoch: int, batches: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task("train", total=batches, model=self.model, epoch=epoch + 1,
                                           epochs=self.epochs, loss=float("nan"), ips=0.0)

    def batch(self, loss: float, images_per_s: float) -> None:
        self.progress.update(self.task, advance=1, loss=loss, ips=images_per_s)

    def end_epoch(self, m: dict) -> None:
        self.progress.console.print(
            f"{self.model} epoch {m['epoch']}/{self.epochs}: loss {m['train_loss']:.3f}  train acc "
            f"{m['train_acc']:.3f}  val acc {m['val_acc']:.3f}  {m['images_per_s']:.0f} img/s  "
            f"data {m['data_share']:.0%}  lr {m['lr']:.4g}", highlight=False)
