"""Progress as the CLI draws it, on stderr (stdout stays for results).

Training: one rich bar per epoch with loss, images/s and ETA (unless `bars=False`, for logs and CI), and one line
per finished epoch either way (never wrapped in a log); under train-all each line says which model of how many.

compare (`RowProgress`): the library's messages as lines, each prefixed with "row n/N, ~T left" once the library
reports its row count; on a terminal a live line (spinner, current step, rows, elapsed, time left) that rich
redraws every second, and in a log a "still working" line after each 10 s without a message: no long step
(an export, an engine build, an accuracy pass) is silent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.cli.console import err, escape, info
from mldrnet.training.loop import TrainObserver

HEARTBEAT_S = 10.0  # the longest a log goes without a line while compare works


def duration(seconds: float) -> str:
    """A short human duration: 45 s, 3 min 20 s, 1 h 05 min."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class RowProgress:
    """compare's progress callback (`progress(message)`) and row counter (`rows(done, total)`); a context manager
    that starts and stops the live line and the log heartbeat. `clock` is replaceable for tests."""

    def __init__(
        self,
        bars: bool = True,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "row",
    ):
        self.clock, self.heartbeat_s, self.unit = clock, heartbeat_s, unit  # unit: what is counted ("row", "file")
        self.started = self.last = clock()
        self.done, self.total = 0, None
        self.step = "starting"
        self.live = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[where]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not (bars and err.is_terminal),
        )
        self.task = self.live.add_task(self.step, total=None, where="")
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> RowProgress:
        self.live.start()
        if self.live.disable and self.heartbeat_s > 0:  # a log: no live line, so a line when nothing is said
            self._beat = threading.Thread(target=self._heartbeat, name="compare-heartbeat", daemon=True)
            self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        self.live.stop()

    def __call__(self, message: str) -> None:
        """A library message: one line on stderr; it becomes the live line's current step."""
        self.last, self.step = self.clock(), message
        info(self.where() + message)
        # the live line is rich markup: a message's brackets (a path, pip's 'pkg[gpu]') are text
        self.live.update(self.task, description=escape(message[:60] + ("…" if len(message) > 60 else "")))

    def rows(self, done: int, total: int) -> None:
        """The library's count: `done` of the run's `total` rows are made."""
        self.done, self.total = done, total
        self.live.update(self.task, where=self.where().rstrip(": "))

    def left(self) -> float | None:
        """Seconds left, from the mean time per row so far (None before the first row)."""
        if not self.done or self.total is None:
            return None
        return (self.clock() - self.started) / self.done * max(self.total - self.done, 0)

    def where(self) -> str:
        """The line prefix once the library has counted rows ("row n/N, ~T left: "), else nothing."""
        if self.total is None:
            return ""
        left = self.left()
        return (
            f"{self.unit} {self.done}/{self.total}" + (f", ~{duration(left)} left" if left is not None else "") + ": "
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat_s / 4)):
            silent = self.clock() - self.last
            if silent >= self.heartbeat_s:
                self.last = self.clock()
                info(f"{self.where()}still working ({duration(silent)} since: {self.step})")


class EpochProgress(TrainObserver):
    """`models`: how many models train-all trains; pass `model_done` as its `on_result` (called for every model,
    trained, skipped or failed) and each line says "model k/N"."""

    def __init__(self, bars: bool = True, models: int | None = None):
        self.bars, self.models, self.models_done = bars, models, 0
        self.model, self.epochs = "", 0
        self.progress: Progress | None = None
        self.task = None

    def start_run(self, model: str, epochs: int) -> None:
        self.model, self.epochs = model, epochs
        self.progress = Progress(
            TextColumn(
                "{task.fields[which]}[bold]{task.fields[model]}[/] epoch {task.fields[epoch]}/{task.fields[epochs]}"
            ),
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

    def model_done(self, _result=None) -> None:
        self.models_done += 1

    def which(self) -> str:
        """The line prefix under train-all ("model k/N: "), else nothing."""
        return f"model {min(self.models_done + 1, self.models)}/{self.models}: " if self.models else ""

    def end_run(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def start_epoch(self, epoch: int, batches: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(
            "train",
            total=batches,
            which=self.which(),
            model=self.model,
            epoch=epoch + 1,
            epochs=self.epochs,
            loss=float("nan"),
            ips=0.0,
        )

    def batch(self, loss: float, images_per_s: float) -> None:
        self.progress.update(self.task, advance=1, loss=loss, ips=images_per_s)

    def end_epoch(self, m: dict) -> None:
        info(
            f"{self.which()}{self.model} epoch {m['epoch']}/{self.epochs}: loss {m['train_loss']:.3f}  train acc "
            f"{100 * m['train_acc']:.2f} %  val acc {100 * m['val_acc']:.2f} %  {m['images_per_s']:.0f} img/s  "
            f"data {m['data_share']:.0%}  lr {m['lr']:.4g}"
        )
