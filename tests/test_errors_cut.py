"""An over-long error is cut in the middle of what went wrong, never inside the fix the user acts on."""

import pytest

from mldrnet.errors import BenchError, one_line, shorten

FIX = "pip install 'bench-mldr[gpu]' (or see `bench doctor`)"


def test_a_long_what_loses_its_middle_and_the_fix_stays_whole():
    what = "tensorrt could not load " + "/a/very/long/folder" * 30 + "/model.fp16.engine"
    message = one_line(BenchError(f"{what}: {FIX}"))
    assert len(message) == 300
    assert message.endswith(": " + FIX)  # the whole fix, after one separator
    assert message.startswith("tensorrt could not load ")  # what went wrong
    assert "…" in message and "model.fp16.engine" in message  # the cut is in the middle: the end of the what stays


def test_a_non_bench_error_keeps_its_type_and_its_fix():
    message = one_line(RuntimeError("x" * 500 + ": run `bench doctor --gpu-check`"), limit=120)
    assert len(message) == 120
    assert message.startswith("RuntimeError: xxx") and message.endswith(": run `bench doctor --gpu-check`")


def test_short_messages_are_untouched():
    assert one_line(BenchError(f"no engine: {FIX}")) == f"no engine: {FIX}"
    assert one_line(ValueError("bad value")) == "ValueError: bad value"


@pytest.mark.parametrize("limit", [60, 80, 300])
def test_a_fix_too_long_for_the_limit_keeps_both_ends(limit):
    message = shorten("short what: " + "do this " * 100 + "and finally run bench doctor", limit)
    assert len(message) == limit
    assert message.startswith("short what: do") and message.endswith("run bench doctor") and "…" in message


def test_only_the_first_line_is_kept_before_the_cut():
    message = one_line(BenchError("what went wrong: " + FIX + "\nsecond line " * 50))
    assert message == "what went wrong: " + FIX
