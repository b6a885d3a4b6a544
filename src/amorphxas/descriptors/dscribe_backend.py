"""ACSF, SOAP (GTO and polynomial radial basis) and LMBTR through DScribe 2.x.

Presets (``study1`` reproduces the dimensions of study 1, Table I; ``fast`` is for tests and the
quick pipeline):

============  =========================================================  =======  ======
kind          study1 parameters                                          study1   fast
============  =========================================================  =======  ======
acsf          r_cut 6; G2: 20 eta x 10 R_s; G4: 20 eta x 40 zeta x 2 lam  5202     58
soap-gto      r_cut 6, n_max 10, l_max 12, sigma 0.5, rbf gto            2730     180
soap-poly     same, rbf polynomial                                       2730     180
lmbtr         k2 distance (3 x 100) + k3 angle (12 x 100), exp weights   1500     450
============  =========================================================  =======  ======
"""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms

from amorphxas.descriptors.base import SPECIES, Descriptor, geomspace_list, linspace_list


def _quiet_atoms(atoms: Atoms) -> Atoms:
    """A bare copy (numbers, positions, cell, pbc): no calculator, constraints or info."""
    return Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)


class _DScribeLocal(Descriptor):
    """A DScribe descriptor object in ``self._impl`` evaluated at the given centres."""

    @property
    def n_features(self):
        return int(self._impl.get_number_of_features())

    def _compute_one(self, atoms, centres):
        out = self._impl.create(_quiet_atoms(atoms), centers=centres.tolist(), n_jobs=1)
        return np.asarray(out).reshape(len(centres), -1)

    def _cell_list_cutoff(self) -> float:
        return float(self.params["r_cut"])

    def _backend_bytes(self, atoms, n_chunk):
        from amorphxas.descriptors.resources import dscribe_cell_list_bytes

        return dscribe_cell_list_bytes(atoms, self._cell_list_cutoff())


class ACSF(_DScribeLocal):
    """Atom-centred symmetry functions (Behler-Parrinello G1, G2, G4), DScribe implementation.

    Study 1 does not give its G2/G4 grid; 5202 = 2 (G1) + 2 x 200 (G2) + 3 x 1600 (G4) fixes
    the size, and the grid below is our documented choice of that size.
    """

    kind = "acsf"
    backend = "dscribe.ACSF"
    site_chunk = 512

    @classmethod
    def preset_params(cls, preset):
        if preset == "study1":
            g2 = [[eta, rs] for eta in geomspace_list(0.01, 5.0, 20) for rs in linspace_list(0.0, 5.0, 10)]
            g4 = [[eta, zeta, lam] for eta in geomspace_list(0.002, 1.0, 20)
                  for zeta in geomspace_list(1.0, 128.0, 40) for lam in (-1.0, 1.0)]
            return {"r_cut": 6.0, "g2_params": g2, "g4_params": g4}
        g2 = [[eta, rs] for eta in (0.05, 0.5, 2.0, 5.0) for rs in (0.0, 1.6, 2.4, 3.2)]
        g4 = [[eta, zeta, lam] for eta in (0.005, 0.1) for zeta in (1.0, 4.0) for lam in (-1.0, 1.0)]
        return {"r_cut": 5.5, "g2_params": g2, "g4_params": g4}

    def _setup(self):
        from dscribe.descriptors import ACSF as _ACSF

        p = self.params
        self._impl = _ACSF(species=list(SPECIES), r_cut=p["r_cut"], g2_params=p["g2_params"],
                           g4_params=p["g4_params"], periodic=True)

    def _backend_bytes(self, atoms, n_chunk):
        from amorphxas.descriptors.resources import neighbours_per_sphere

        # plus the exact-G4 fallback: ASE's neighbour list of the cell, triplets in 32 MB chunks
        pairs = len(atoms) * neighbours_per_sphere(atoms, float(self.params["r_cut"]))
        return super()._backend_bytes(atoms, n_chunk) + pairs * 64 + 4 * 2 ** 25

    def _compute_one(self, atoms, centres):
        """DScribe's ACSF; sites whose G4 came out non-finite (a 0 or 180 degree triplet with a
        non-integer zeta) get the G4 block recomputed exactly by
        :func:`~amorphxas.descriptors.acsf_exact.g4_block` (base clipped at 0)."""
        out = super()._compute_one(atoms, centres)
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any() and len(self.params["g4_params"]):
            from amorphxas.descriptors.acsf_exact import g4_block

            numbers = [int(z) for z in self._impl._atomic_numbers]
            start = len(numbers) * (1 + len(self.params["g2_params"]))
            out[np.ix_(bad, np.arange(start, out.shape[1]))] = g4_block(
                _quiet_atoms(atoms), centres[bad], float(self.params["r_cut"]),
                self.params["g4_params"], numbers)
        return out


class _SOAP(_DScribeLocal):
    rbf = "gto"
    site_chunk = 512

    @classmethod
    def preset_params(cls, preset):
        if preset == "study1":
            return {"r_cut": 6.0, "n_max": 10, "l_max": 12, "sigma": 0.5}
        return {"r_cut": 5.5, "n_max": 4, "l_max": 4, "sigma": 0.5}

    def _setup(self):
        from dscribe.descriptors import SOAP

        p = self.params
        self._impl = SOAP(species=list(SPECIES), r_cut=p["r_cut"], n_max=p["n_max"],
                          l_max=p["l_max"], sigma=p["sigma"], rbf=self.rbf, periodic=True,
                          sparse=False)

    def _cell_list_cutoff(self) -> float:
        # DScribe pads the SOAP cutoff so that the Gaussians decay to 1e-3 at r_cut
        return float(self.params["r_cut"]) + float(self._impl.get_cutoff_padding())


class SOAPGTO(_SOAP):
    """SOAP power spectrum with spherical-GTO radial basis (DScribe ``rbf="gto"``)."""

    kind = "soap-gto"
    backend = "dscribe.SOAP(rbf=gto)"
    rbf = "gto"


class SOAPPoly(_SOAP):
    """SOAP power spectrum with polynomial radial basis (DScribe ``rbf="polynomial"``)."""

    kind = "soap-poly"
    backend = "dscribe.SOAP(rbf=polynomial)"
    rbf = "polynomial"


class LMBTR(Descriptor):
    """Local many-body tensor representation: k2 (distance) and k3 (angle) terms concatenated.

    DScribe 2.x computes one term per LMBTR object; we concatenate k2 then k3. With species
    {Si, O} and the centre as its own pseudo-element there are 3 k2 and 12 k3 channels, so a grid
    of 100 points gives 3 x 100 + 12 x 100 = 1500 (study 1). Periodic LMBTR needs the ``exp``
    weighting (it sets the radial cutoff): k2 weight exp(-s r) cut at 1e-3, i.e. at r = r_cut;
    k3 weight exp(-s (r_ab + r_bc + r_ca)) with s chosen so that the cut (1e-3) is at the same
    r_cut. Runs through :mod:`amorphxas.descriptors._dscribe_compat` (ASE >= 3.27 shim).
    """

    kind = "lmbtr"
    backend = "dscribe.LMBTR"
    site_chunk = 256

    @classmethod
    def preset_params(cls, preset):
        n = 100 if preset == "study1" else 30
        r_cut = 6.0 if preset == "study1" else 5.5
        threshold = 1e-3
        return {
            "r_cut": r_cut,
            "k2": {"geometry": {"function": "distance"},
                   "grid": {"min": 0.0, "max": r_cut, "sigma": 0.05, "n": n},
                   "weighting": {"function": "exp", "scale": math.log(1 / threshold) / r_cut,
                                 "threshold": threshold}},
            "k3": {"geometry": {"function": "angle"},
                   "grid": {"min": 0.0, "max": 180.0, "sigma": 2.0, "n": n},
                   "weighting": {"function": "exp",
                                 "scale": 0.5 * math.log(1 / threshold) / r_cut,
                                 "threshold": threshold}},
            "normalize_gaussians": True,
        }

    def _setup(self):
        from amorphxas.descriptors._dscribe_compat import install

        install()
        from dscribe.descriptors import LMBTR as _LMBTR

        p = self.params
        self._impl = [
            _LMBTR(geometry=p[k]["geometry"], grid=p[k]["grid"], weighting=p[k]["weighting"],
                   normalize_gaussians=p["normalize_gaussians"], normalization="none",
                   species=list(SPECIES), periodic=True, sparse=False)
            for k in ("k2", "k3")
        ]

    @property
    def n_features(self):
        return int(sum(d.get_number_of_features() for d in self._impl))

    def _backend_bytes(self, atoms, n_chunk):
        # DScribe's get_extended_system(centers=...) keeps, per image of the cell, the
        # (n_chunk, n_atom) distances of every atom to the chunk's centres
        return 2.0 * n_chunk * len(atoms) * 8

    def _compute_one(self, atoms, centres):
        atoms = _quiet_atoms(atoms)
        parts = [np.asarray(d.create(atoms, centers=centres.tolist(), n_jobs=1)).reshape(len(centres), -1)
                 for d in self._impl]
        return np.concatenate(parts, axis=1)
