"""bench: the benchmark library (compare, timing, check, records, report) and the CLI (`bench.cli`). The top layer:
may import `engines` and `mldrnet`; nothing imports it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bench-mldrnet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
