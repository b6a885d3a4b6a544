"""Local descriptors of Si sites (study 1, Table I, plus a present-day row) and the standardise+PCA step.

Kinds (``KINDS``): ``acsf``, ``soap-gto``, ``soap-poly``, ``lmbtr`` (DScribe), ``snap``, ``qsnap``
(LAMMPS ``compute sna/atom``), ``soap-featomic`` (featomic). Every class shares
:class:`~amorphxas.descriptors.base.Descriptor`: ``compute(structures, centers) -> (n_site,
n_features)``, ``n_features``, ``parameters()`` (JSON). Presets: ``study1`` (Table I
dimensions) and ``fast``. See docs/descriptors.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError, DatasetError
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
                     progress: bool = True, dtype: str = "float32") -> Path:
    """Describe every Si site of every cell of a dataset into a sidecar HDF5 file.

    Layout of ``out_path`` (default ``<dataset>.descriptors.h5``; other kinds already in it are
    kept): ``/<kind>/X`` (n_site, n_features) ``dtype``, ``/<kind>/cell_id`` (str),
    ``/<kind>/atom_index`` (int); attrs ``parameters`` (JSON), ``kind``, ``preset``,
    ``n_features``, ``dataset``, ``amorphxas_version``, and the cache keys ``parameters_sha256``,
    ``structures_sha256`` (:mod:`amorphxas.descriptors.cache`). Rows: cells in sorted order, Si atoms in
    index order (the order of :func:`amorphxas.dataset.load_sites`). Cells are processed
    ``chunk_cells`` at a time, in parallel over cells with joblib (``n_jobs`` workers), and
    appended to the file, so memory stays at one chunk of descriptors. The group is written
    under a temporary name and renamed at the end: an interrupted run leaves no partial group.
    """
    import h5py
    from joblib import Parallel, delayed

    from amorphxas import __version__
    from amorphxas.dataset import validate

    dataset_path = Path(dataset_path)
    validate(dataset_path)
    out_path = Path(out_path) if out_path is not None else dataset_path.with_suffix(".descriptors.h5")
    if out_path.resolve() == dataset_path.resolve():
        raise DatasetError(f"{out_path}: refusing to write descriptors into the dataset itself")
    descriptor = get_descriptor(kind, preset)
    n_feat = descriptor.n_features
    from amorphxas.descriptors.cache import parameters_sha256, structures_sha256

    with h5py.File(dataset_path, "r") as h5:
        cell_ids = sorted(h5["structures"])
    if not cell_ids:
        raise DatasetError(f"{dataset_path}: no structures to describe")
    structures_key = structures_sha256(dataset_path, cell_ids)
    chunk_cells = max(1, int(chunk_cells))
    tmp_name = f".{kind}.partial"
    str_dt = h5py.string_dtype()
    from amorphxas.structures.lammps_md import _progress

    with h5py.File(out_path, "a") as out, _progress(progress, f"describe {kind}") as bar:
        if tmp_name in out:
            del out[tmp_name]
        group = out.create_group(tmp_name)
        ds_x = group.create_dataset("X", shape=(0, n_feat), maxshape=(None, n_feat), dtype=dtype,
                                    chunks=(max(1, min(256, 2 ** 24 // (4 * n_feat) or 1)), n_feat))
        ds_c = group.create_dataset("cell_id", shape=(0,), maxshape=(None,), dtype=str_dt)
        ds_i = group.create_dataset("atom_index", shape=(0,), maxshape=(None,), dtype="i8")
        task = bar.add_task(f"describe {kind}", total=len(cell_ids))
        with Parallel(n_jobs=n_jobs, backend="loky") as parallel:
            for start in range(0, len(cell_ids), chunk_cells):
                chunk = cell_ids[start:start + chunk_cells]
                results = parallel(delayed(_describe_cell)(str(dataset_path), c, kind, preset)
                                   for c in chunk)
                for cell_id, index, X in results:
                    n0, m = ds_x.shape[0], X.shape[0]
                    for ds in (ds_x, ds_c, ds_i):
                        ds.resize(n0 + m, axis=0)
                    ds_x[n0:] = X.astype(dtype)
                    ds_c[n0:] = np.array([cell_id] * m, dtype=object)
                    ds_i[n0:] = index
                bar.advance(task, len(chunk))
        group.attrs["parameters"] = json.dumps(descriptor.parameters())
        group.attrs["kind"] = kind
        group.attrs["preset"] = preset
        group.attrs["n_features"] = n_feat
        group.attrs["dataset"] = os.fspath(dataset_path)
        group.attrs["amorphxas_version"] = __version__
        group.attrs["parameters_sha256"] = parameters_sha256(descriptor)
        group.attrs["structures_sha256"] = structures_key
        if kind in out:
            del out[kind]
        out.move(tmp_name, kind)
    return out_path


def load_descriptors(path: str | Path, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(X, cell_id, atom_index, parameters) of ``kind`` from a sidecar written by describe_dataset."""
    import h5py

    with h5py.File(path, "r") as h5:
        if kind not in h5:
            raise DatasetError(f"{path}: no descriptors of kind {kind!r} (have: {', '.join(h5)})")
        g = h5[kind]
        cell = np.array([c.decode() if isinstance(c, bytes) else str(c) for c in g["cell_id"][()]],
                        dtype=object)
        return g["X"][()], cell, g["atom_index"][()], json.loads(g.attrs["parameters"])


__all__ = [
    "ACSF", "CHGNetEmbedding", "KINDS", "LMBTR", "PCAPipeline", "PhysicalFeatures", "PRESETS", "QSNAP",
    "SNAP", "SOAPFeatomic", "SOAPGTO", "SOAPPoly", "SPECIES", "TABLE_I", "Descriptor", "describe_dataset",
    "describe_file", "fit_pca", "get_descriptor", "load_descriptors",
]
