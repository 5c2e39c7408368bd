"""bench: a benchmark harness for image emotion classification (MldrNet and its baselines)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bench-mldrnet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
