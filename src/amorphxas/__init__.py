"""amorphxas: structure <-> Si K-edge XANES for amorphous SiOx."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amorphxas")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
