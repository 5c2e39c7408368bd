"""compare's row progress (row n/N, time left, a line after 10 s of silence in a log) and train-all's model count."""

import time

import pytest

from bench.cli.progress import EpochProgress, RowProgress, duration


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rows_and_time_left_prefix_each_line(capsys):
    clock = Clock()
    progress = RowProgress(bars=False, heartbeat_s=0, clock=clock)
    with progress:
        progress("cpu fp32 matrix-product peak: 12.0 GFLOP/s")  # before the library counts: no prefix
        clock.now += 20
        progress.rows(2, 10)
        progress("mldrnet ort-cpu fp32 batch 8 at 64 px (model): p50 3.10 ms, 2580.6 img/s")
        clock.now += 70
        progress.rows(9, 10)
        progress("mldrnet trt fp16: pip install 'bench-mldrnet[tensorrt]'")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "cpu fp32 matrix-product peak: 12.0 GFLOP/s"
    assert lines[1].startswith("row 2/10, ~1 min 20 s left: mldrnet ort-cpu fp32 batch 8")  # 10 s a row, 8 left
    assert lines[2] == "row 9/10, ~10 s left: mldrnet trt fp16: pip install 'bench-mldrnet[tensorrt]'"


def test_a_silent_step_gets_a_line_in_a_log(capsys):
    with RowProgress(bars=False, heartbeat_s=0.2) as progress:
        progress.rows(0, 4)
        progress("mldrnet ort-cpu fp32: exporting")
        time.sleep(0.6)  # an export that says nothing
    err = capsys.readouterr().err
    assert "row 0/4: still working (" in err and "since: mldrnet ort-cpu fp32: exporting)" in err


def test_durations_read_as_time():
    assert [duration(s) for s in (0, 9.6, 200, 3720)] == ["0 s", "10 s", "3 min 20 s", "1 h 02 min"]


def test_train_all_lines_say_which_model_of_how_many_in_percent(capsys):
    progress = EpochProgress(bars=False, models=3)
    progress.model_done()  # the first model was skipped (trained the same way before)
    progress.start_run("vgg19", 2)
    progress.start_epoch(0, 4)
    metrics = dict(epoch=1, train_loss=1.5, train_acc=0.5, val_acc=0.91388, images_per_s=50, data_share=0.1, lr=1e-3)
    progress.end_epoch(metrics)
    progress.end_run()
    line = capsys.readouterr().err.strip()
    assert line.startswith("model 2/3: vgg19 epoch 1/2: loss 1.500  train acc 50.00 %  val acc 91.39 %")


@pytest.mark.parametrize("workers", [0, 2])
def test_verify_says_how_far_it_got(tmp_path, workers):
    from mldrnet.data.audit import PROGRESS_EVERY, verify
    from tests.helpers.data_files import jpg, truncated_jpg

    paths = [jpg(tmp_path / f"{i}.jpg", colour=(i % 255, 0, 0)) for i in range(2 * PROGRESS_EVERY + 5)]
    paths.append(truncated_jpg(tmp_path / "cut.jpg"))
    calls: list[tuple[int, int]] = []
    report = verify(paths, workers, on_progress=lambda done, total: calls.append((done, total)))
    n = len(paths)
    assert calls == [(PROGRESS_EVERY, n), (2 * PROGRESS_EVERY, n), (n, n)]
    assert report.n_checked == n and [p for p, _ in report.bad] == [str(tmp_path / "cut.jpg")]
