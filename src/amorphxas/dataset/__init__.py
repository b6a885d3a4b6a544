"""The single dataset format between stages (HDF5, see :mod:`amorphxas.dataset.store`).

Open a dataset once as a :class:`Dataset` (plain numpy arrays and small dataclasses out); the
one-call functions (:func:`load_sites`, :func:`load_spectra`, :func:`info`, ...) wrap it. The
descriptor sidecar next to a dataset is :mod:`amorphxas.dataset.sidecar`.
"""

from pathlib import Path

from amorphxas.dataset.file import Dataset
from amorphxas.dataset.loader import (
    SiteTable,
    SpectraTable,
    info,
    load_reference,
    load_sites,
    load_spectra,
    load_structure,
)
from amorphxas.dataset.store import SCHEMA_VERSION, create, fork, transaction, validate
from amorphxas.dataset.tables import Reference

EMBEDDED_NAME = "siox_sik_v4.h5"


def embedded_path() -> Path:
    """Path of the dataset shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / EMBEDDED_NAME


__all__ = [
    "SCHEMA_VERSION", "Dataset", "Reference", "SiteTable", "SpectraTable", "create", "embedded_path",
    "fork", "info", "load_reference", "load_sites", "load_spectra", "load_structure", "transaction",
    "validate",
]
