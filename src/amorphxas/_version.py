"""The package version (one source: read by pyproject.toml at build time and by the package)."""

__version__ = "0.1.0"
