"""cgr kernel: hookspecs, plugin manager, records, bundles, pipeline, store, stats and CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cgr")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
