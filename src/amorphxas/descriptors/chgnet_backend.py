"""CHGNet per-atom embeddings as a Si-site descriptor (64 numbers per Si atom).

CHGNet 0.4.2 (Deng et al., Nat. Mach. Intell. 2023; PyPI ``chgnet``) is a universal interatomic
potential trained on the Materials Project trajectories; its pretrained weights (v0.3.0) are
inside the wheel, so this works offline. ``predict_structure(..., return_atom_feas=True)``
returns the atom features after the last interaction block: an (n_atom, 64) array. They depend
on interatomic distances and bond angles only (within 5 A / 3 A graph cut-offs), so they are
invariant under rotation, translation and re-wrapping of the cell (tested).

The network sees the whole periodic cell once; the rows of the requested Si centres are taken
from that, without autograd (``torch.no_grad``: the same features; peak memory 0.70 GB instead
of 2.39 GB for a 1,000-atom cell, so a 9,826-atom cell fits in a few GB). The last cell's features are cached (keyed by numbers, positions and cell), so a
chunked prediction over a 9,826-atom model runs the network once.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from ase import Atoms

from amorphxas.descriptors.base import Descriptor

_MODEL = None
N_ATOM_FEA = 64


def chgnet_model():
    """The pretrained CHGNet (loaded once per process from the installed wheel, CPU)."""
    global _MODEL
    if _MODEL is None:
        import torch
        from chgnet.model import CHGNet

        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        _MODEL = CHGNet.load(verbose=False, use_device="cpu")
    return _MODEL


def _key(atoms: Atoms) -> str:
    h = hashlib.sha256()
    for a in (atoms.numbers, atoms.get_positions(), np.asarray(atoms.cell)):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class CHGNetEmbedding(Descriptor):
    """CHGNet v0.3.0 atom features of the Si centres: (n_centre, 64), dimensionless.

    Both presets are the same (the network has no tunable parameters here); ``batch_size`` only
    affects speed."""

    kind = "chgnet"
    backend = "chgnet"

    def __init__(self, *args, **kwargs):
        self._cache: tuple[str, np.ndarray] | None = None
        super().__init__(*args, **kwargs)

    @classmethod
    def preset_params(cls, preset: str) -> dict:
        from importlib.metadata import version

        return {"model": "CHGNet v0.3.0 (chgnet wheel)", "chgnet_version": version("chgnet"),
                "layer": "atom_fea after the last interaction block", "n_atom_fea": N_ATOM_FEA}

    @property
    def n_features(self) -> int:
        return N_ATOM_FEA

    def atom_features(self, atoms: Atoms) -> np.ndarray:
        """(n_atom, 64) CHGNet features of every atom of a periodic cell (cached for the last cell)."""
        key = _key(atoms)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        import warnings

        import torch
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(atoms)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            out = chgnet_model().predict_structure(structure, task="e", return_atom_feas=True)
        feas = np.asarray(out["atom_fea"], dtype=np.float64)
        self._cache = (key, feas)
        return feas

    def _compute_one(self, atoms: Atoms, centres: np.ndarray) -> np.ndarray:
        return self.atom_features(atoms)[centres]
