"""tritune: find, by measurement, the best way to serve a model on the Triton Inference Server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tritune")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
