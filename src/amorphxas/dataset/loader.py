"""Read a dataset into plain numpy arrays: one-call functions over :class:`~amorphxas.dataset.file.Dataset`.

Each function opens (and validates) the file once. A caller that needs several of these should
open one :class:`~amorphxas.dataset.file.Dataset` instead; every function also accepts one, and
then reads nothing from disk again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from amorphxas.dataset import store
from amorphxas.dataset.file import Dataset
from amorphxas.dataset.tables import (
    PRIMARY,
    SiteTable,
    SpectraTable,
    read_sites,
    read_spectra,
    read_structure,
    select_fidelity,
    spectrum_site_rows,
)
from amorphxas.dataset.text import as_texts

__all__ = ["PRIMARY", "SiteTable", "SpectraTable", "info", "load_reference", "load_sites",
           "load_spectra", "load_structure", "spectrum_site_rows"]

DatasetLike = str | os.PathLike | Dataset


def _decode(values) -> np.ndarray:
    """Kept for callers of the old private name: :func:`amorphxas.dataset.text.as_texts`."""
    return as_texts(values)


def load_sites(path: DatasetLike) -> SiteTable:
    """All per-site rows of the dataset, cells in sorted order."""
    if isinstance(path, Dataset):
        return path.sites
    with store.open_valid(path) as h5:
        return read_sites(h5)


def load_spectra(path: DatasetLike, fidelity: str | Sequence[str] | None = PRIMARY) -> SpectraTable:
    """The site spectra of the dataset on its common energy grid, rows of the chosen fidelity.

    ``fidelity``: "primary" (default) = the dataset's own protocol, named by its ``settings``
    (``v4`` for the embedded dataset; every row of a file written before rows carried a
    fidelity); a label ("v4", "gamma", "gamma-corrected") or a list of labels; None = all rows.
    """
    if isinstance(path, Dataset):
        return path.spectra(fidelity)
    with store.open_valid(path) as h5:
        table, primary = read_spectra(h5)
    return select_fidelity(table, primary, fidelity)


def load_reference(path: DatasetLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(energy eV, intensity) of a crystal reference, e.g. ``alpha-quartz``."""
    return Dataset.open(path).reference(name)


def load_structure(path: DatasetLike, cell_id: str):
    """One stored cell as an ``ase.Atoms`` (reads only that cell)."""
    if isinstance(path, Dataset):
        return path.structure(cell_id)
    with h5py.File(Path(path), "r") as h5:
        return read_structure(h5, cell_id, path)


def info(path: DatasetLike) -> dict:
    """Counts by composition and valence, and the DFT settings (JSON-serialisable)."""
    return Dataset.open(path).info()
