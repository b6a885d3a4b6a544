"""A present-day row: featomic's SOAP power spectrum (``featomic.SoapPowerSpectrum``).

featomic (formerly rascaline, COSMO/EPFL) computes the SOAP power spectrum with a spliced radial
basis in Rust, about 2x faster than DScribe's SOAP on this machine. Its output is a metatensor
``TensorMap`` with one block per (centre, neighbour_1, neighbour_2) species; we lay it out in a
fixed order (neighbour pairs O-O, O-Si, Si-Si, each with properties (l, n1, n2)), so structures
without O (diamond) give the same columns, with zeros for the O channels.

Dimensions: 3 pairs x (max_angular + 1) x (max_radial + 1)^2:
study1 (r_cut 6, max_radial 7, max_angular 8) -> 1728; fast (r_cut 5.5, 4, 4) -> 375.
"""

from __future__ import annotations

import numpy as np

from amorphxas.descriptors.base import Descriptor

_Z = {"Si": 14, "O": 8}
_PAIRS = ((8, 8), (8, 14), (14, 14))


class SOAPFeatomic(Descriptor):
    """SOAP power spectrum by featomic (GTO radial basis, Gaussian density, shifted-cosine cutoff)."""

    kind = "soap-featomic"
    backend = "featomic.SoapPowerSpectrum"

    @classmethod
    def preset_params(cls, preset):
        if preset == "study1":
            return {"r_cut": 6.0, "smoothing_width": 0.5, "density_width": 0.5,
                    "max_radial": 7, "max_angular": 8}
        return {"r_cut": 5.5, "smoothing_width": 0.5, "density_width": 0.5,
                "max_radial": 4, "max_angular": 4}

    def hypers(self) -> dict:
        p = self.params
        return {
            "cutoff": {"radius": p["r_cut"],
                       "smoothing": {"type": "ShiftedCosine", "width": p["smoothing_width"]}},
            "density": {"type": "Gaussian", "width": p["density_width"]},
            "basis": {"type": "TensorProduct", "max_angular": int(p["max_angular"]),
                      "radial": {"type": "Gto", "max_radial": int(p["max_radial"])}},
        }

    def _setup(self):
        from featomic import SoapPowerSpectrum

        self._impl = SoapPowerSpectrum(**self.hypers())
        p = self.params
        self._per_pair = (p["max_angular"] + 1) * (p["max_radial"] + 1) ** 2

    @property
    def n_features(self):
        return len(_PAIRS) * self._per_pair

    def _backend_bytes(self, atoms, n_chunk):
        """featomic: neighbour pairs within r_cut (~100 B each) and the TensorMap blocks."""
        from amorphxas.descriptors.resources import neighbours_per_sphere

        pairs = len(atoms) * neighbours_per_sphere(atoms, float(self.params["r_cut"]))
        return pairs * 100.0 + 2.0 * n_chunk * self.n_features * 8

    def _compute_one(self, atoms, centres):
        from ase import Atoms
        from metatensor import Labels

        bare = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        selection = Labels(["system", "atom"],
                           np.array([[0, int(i)] for i in centres], dtype=np.int32))
        tmap = self._impl.compute([bare], selected_samples=selection)
        row_of = {int(a): k for k, a in enumerate(centres)}
        out = np.zeros((len(centres), self.n_features))
        names = list(tmap.keys.names)
        for key, block in tmap.items():
            kv = dict(zip(names, (int(v) for v in key.values)))
            if kv["center_type"] != _Z["Si"]:
                continue
            pair = (kv["neighbor_1_type"], kv["neighbor_2_type"])
            slot = _PAIRS.index(pair)
            values = np.asarray(block.values)
            if values.shape[1] != self._per_pair:
                raise RuntimeError(f"featomic block {pair} has {values.shape[1]} properties, "
                                   f"expected {self._per_pair}")
            atom_col = list(block.samples.names).index("atom")
            rows = [row_of[int(a)] for a in np.asarray(block.samples.values)[:, atom_col]]
            out[rows, slot * self._per_pair:(slot + 1) * self._per_pair] = values
        return out
