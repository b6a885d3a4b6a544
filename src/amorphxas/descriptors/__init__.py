"""Local descriptors of Si sites (study 1, Table I, plus a present-day row) and the standardise+PCA step.

Kinds (``KINDS``): ``acsf``, ``soap-gto``, ``soap-poly``, ``lmbtr`` (DScribe), ``snap``, ``qsnap``
(LAMMPS ``compute sna/atom``), ``soap-featomic`` (featomic). Every class shares
:class:`~amorphxas.descriptors.base.Descriptor`: ``compute(structures, centers) -> (n_site,
n_features)``, ``n_features``, ``parameters()`` (JSON). Presets: ``study1`` (Table I
dimensions) and ``fast``. See docs/descriptors.md.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError, DatasetError
from amorphxas.core.progress import Progress, reporter
from amorphxas.descriptors.base import PRESETS, SPECIES, Descriptor, si_indices
from amorphxas.descriptors.chgnet_backend import CHGNetEmbedding
from amorphxas.descriptors.dscribe_backend import ACSF, LMBTR, SOAPGTO, SOAPPoly
from amorphxas.descriptors.featomic_backend import SOAPFeatomic
from amorphxas.descriptors.physical import PhysicalFeatures
from amorphxas.descriptors.pipeline import PCAPipeline, fit_pca
from amorphxas.descriptors.snap import QSNAP, SNAP

KINDS: dict[str, type[Descriptor]] = {
    "acsf": ACSF,
    "soap-gto": SOAPGTO,
    "soap-poly": SOAPPoly,
    "lmbtr": LMBTR,
    "snap": SNAP,
    "qsnap": QSNAP,
    "soap-featomic": SOAPFeatomic,
    "chgnet": CHGNetEmbedding,  # compact: 64 / 24 features (docs/forward.md)
    "physical": PhysicalFeatures,
}

#: Study 1, Table I: dimension before PCA (study1 preset reproduces these).
TABLE_I = {"acsf": 5202, "soap-poly": 2730, "soap-gto": 2730, "lmbtr": 1500, "snap": 1120,
           "qsnap": 29160}


def get_descriptor(kind: str, preset: str = "study1") -> Descriptor:
    """The descriptor ``kind`` (a key of :data:`KINDS`) with the parameters of ``preset``."""
    if kind not in KINDS:
        raise AmorphxasError(f"unknown descriptor kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if preset not in PRESETS:
        raise AmorphxasError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return KINDS[kind](preset=preset)


def describe_file(path: str | Path, kind: str, preset: str = "study1") -> np.ndarray:
    """Raw descriptors (n_Si, n_features) of the structure in ``path``; rows in Si index order.

    Raises :class:`~amorphxas.core.errors.StructureError` (one line naming ``path``) for an unreadable
    file, an element outside {Si, O}, no Si, a non-periodic cell, overlapping atoms, a cell that
    is mostly vacuum or a non-finite descriptor value, and
    :class:`~amorphxas.core.errors.ResourceError` when the work would exceed the memory limit.
    """
    from amorphxas.structures.io import read_structure

    descriptor = get_descriptor(kind, preset)
    atoms = read_structure(path)
    return descriptor.compute(atoms, source=str(path))


def _describe_cell(dataset_path: str, cell_id: str, kind: str, preset: str):
    """Worker: (cell_id, atom_index, X) of one stored cell (runs in a joblib worker)."""
    from amorphxas.dataset import load_structure

    atoms = load_structure(dataset_path, cell_id)
    descriptor = get_descriptor(kind, preset)
    X = descriptor.compute(atoms, source=f"{dataset_path}: cell {cell_id}")
    return cell_id, si_indices(atoms), X


def describe_dataset(dataset_path: str | Path, kind: str, out_path: str | Path | None = None,
                     preset: str = "study1", chunk_cells: int = 8, n_jobs: int = 1,
                     progress: Progress | bool | None = True, dtype: str = "float32") -> Path:
    """Describe every Si site of every cell of a dataset into its descriptor sidecar.

    ``out_path``: default :func:`amorphxas.dataset.sidecar.sidecar_path` (``<dataset
    stem>.<preset>.descriptors.h5``); other kinds already in it are kept. The block ``/<kind>``
    (layout: :mod:`amorphxas.dataset.sidecar`) holds X (n_site, n_features) ``dtype``, cell_id,
    atom_index and the cache keys ``parameters_sha256``, ``structures_sha256``
    (:mod:`amorphxas.descriptors.cache`). Rows: cells in sorted order, Si atoms in index order
    (the order of :func:`amorphxas.dataset.load_sites`). Cells are processed ``chunk_cells`` at a
    time, in parallel over cells with joblib (``n_jobs`` workers), and appended to the file, so
    memory stays at one chunk of descriptors; an interrupted run leaves no partial block.
    ``progress``: called as ``progress(cells done, cells, "describe <kind>")`` after each chunk
    (True: logged at INFO level, False: silent; :mod:`amorphxas.core.progress`).
    """
    from joblib import Parallel, delayed

    from amorphxas import __version__
    from amorphxas.dataset import Dataset
    from amorphxas.dataset.sidecar import sidecar_path, write_block
    from amorphxas.descriptors.cache import parameters_sha256

    dataset = Dataset.open(dataset_path)
    dataset_path = dataset.path
    out_path = Path(out_path) if out_path is not None else sidecar_path(dataset_path, preset)
    if out_path.resolve() == dataset_path.resolve():
        raise DatasetError(f"{out_path}: refusing to write descriptors into the dataset itself")
    descriptor = get_descriptor(kind, preset)
    n_feat = descriptor.n_features
    cell_ids = dataset.cell_ids
    if not cell_ids:
        raise DatasetError(f"{dataset_path}: no structures to describe")
    attrs = {"parameters": descriptor.parameters(), "kind": kind, "preset": preset,
             "n_features": n_feat, "dataset": os.fspath(dataset_path),
             "amorphxas_version": __version__, "parameters_sha256": parameters_sha256(descriptor),
             "structures_sha256": dataset.structures_sha256(cell_ids)}
    chunk_cells = max(1, int(chunk_cells))
    report = reporter(progress, logging.getLogger(__name__))
    report(0, len(cell_ids), f"describe {kind}")
    with write_block(out_path, kind, n_feat, attrs, dataset_path, dtype) as block, \
            Parallel(n_jobs=n_jobs, backend="loky") as parallel:
        for start in range(0, len(cell_ids), chunk_cells):
            chunk = cell_ids[start:start + chunk_cells]
            results = parallel(delayed(_describe_cell)(str(dataset_path), c, kind, preset)
                               for c in chunk)
            for cell_id, index, X in results:
                block.append(cell_id, index, X)
            report(start + len(chunk), len(cell_ids), f"describe {kind}")
    return out_path


def load_descriptors(path: str | Path, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(X, cell_id, atom_index, parameters) of ``kind`` from a sidecar written by describe_dataset."""
    from amorphxas.dataset.sidecar import read_block

    block = read_block(path, kind)
    return block.X, block.cell_id, block.atom_index, block.parameters


__all__ = [
    "ACSF", "CHGNetEmbedding", "KINDS", "LMBTR", "PCAPipeline", "PhysicalFeatures", "PRESETS", "QSNAP",
    "SNAP", "SOAPFeatomic", "SOAPGTO", "SOAPPoly", "SPECIES", "TABLE_I", "Descriptor", "describe_dataset",
    "describe_file", "fit_pca", "get_descriptor", "load_descriptors",
]
