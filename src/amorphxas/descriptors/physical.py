"""Compact physical features of a Si site (24 numbers): bond lengths, bond angles, shell counts.

Per Si centre, from ASE neighbour lists (cut-offs of :mod:`amorphxas.sites.analysis`: Si-O
2.10 A, Si-Si 2.65 A):

* first shell: number of O and of Si neighbours; mean / min / max Si-O and Si-Si bond length (A)
  (missing bonds: the cut-off); distance to the nearest O and the nearest Si (A, up to 6 A);
* angles at the centre (degrees): mean and std of all neighbour-Si-neighbour angles (O-Si-O,
  Si-Si-Si, O-Si-Si mixed; 0 if fewer than two neighbours);
* bridges: mean / min Si-O-Si angle over the centre's O neighbours and their other Si
  (180 if none); mean number of Si per O neighbour;
* second shell: numbers of Si in 2.65-3.4 A and O in 2.10-4.0 A; mean valence (O count) of the
  Si within 3.4 A; counts of O and Si within 5 A;
* local density: atoms within 5 A / (4/3 pi 5^3) (1/A^3).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from amorphxas.descriptors.base import Descriptor
from amorphxas.sites.analysis import SI_O_CUTOFF, SI_SI_CUTOFF

NAMES = ("n_O", "n_Si", "d_SiO_mean", "d_SiO_min", "d_SiO_max", "d_SiSi_mean", "d_SiSi_min",
         "d_SiSi_max", "d_nearest_O", "d_nearest_Si", "angle_mean", "angle_std",
         "angle_OSiO_mean", "angle_OSiO_std", "bridge_SiOSi_mean", "bridge_SiOSi_min",
         "si_per_O", "n_Si_2nd", "n_O_2nd", "valence_2nd_mean", "n_O_5A", "n_Si_5A",
         "density_5A", "n_neighbours")


def _angles(vecs: np.ndarray) -> np.ndarray:
    """All pairwise angles (degrees) between the rows of ``vecs``."""
    if len(vecs) < 2:
        return np.zeros(0)
    u = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    c = np.clip(u @ u.T, -1.0, 1.0)
    iu = np.triu_indices(len(vecs), 1)
    return np.degrees(np.arccos(c[iu]))


class PhysicalFeatures(Descriptor):
    """24 bond-length / angle / shell-count features per Si centre (see module docstring)."""

    kind = "physical"
    backend = "ase"

    @classmethod
    def preset_params(cls, preset: str) -> dict:
        return {"si_o_cutoff": SI_O_CUTOFF, "si_si_cutoff": SI_SI_CUTOFF, "second_si": 3.4,
                "second_o": 4.0, "r_max": 5.0, "names": list(NAMES)}

    @property
    def n_features(self) -> int:
        return len(NAMES)

    def _compute_one(self, atoms: Atoms, centres: np.ndarray) -> np.ndarray:
        p = self.params
        r_max = float(p["r_max"])
        c_so, c_ss = float(p["si_o_cutoff"]), float(p["si_si_cutoff"])
        is_o = atoms.numbers == 8
        i, j, d, D = neighbor_list("ijdD", atoms, r_max, self_interaction=False)
        order = np.argsort(i, kind="stable")
        i, j, d, D = i[order], j[order], d[order], D[order]
        start = np.searchsorted(i, np.arange(len(atoms) + 1))
        # O count of every Si (for the second-shell valence) and Si count of every O
        bond_o = (~is_o[i]) & is_o[j] & (d < c_so)
        n_o_of = np.bincount(i[bond_o], minlength=len(atoms))
        n_si_of_o = np.bincount(j[bond_o], minlength=len(atoms))
        out = np.zeros((centres.size, len(NAMES)))
        for row, c in enumerate(centres):
            s = slice(start[c], start[c + 1])
            jj, dd, DD = j[s], d[s], D[s]
            o1 = is_o[jj] & (dd < c_so)
            s1 = ~is_o[jj] & (dd < c_ss)
            d_o, d_s = dd[o1], dd[s1]
            first = o1 | s1
            ang = _angles(DD[first])
            ang_o = _angles(DD[o1])
            bridges = []
            for k in np.flatnonzero(o1):
                o = jj[k]
                so = slice(start[o], start[o + 1])
                sel = (~is_o[j[so]]) & (d[so] < c_so) & (j[so] != c)
                for v in D[so][sel]:
                    w = -DD[k]  # O -> centre
                    cosang = np.dot(w, v) / (np.linalg.norm(w) * np.linalg.norm(v))
                    bridges.append(np.degrees(np.arccos(np.clip(cosang, -1, 1))))
            si2 = ~is_o[jj] & (dd >= c_ss) & (dd < p["second_si"])
            o2 = is_o[jj] & (dd >= c_so) & (dd < p["second_o"])
            si_near = ~is_o[jj] & (dd < p["second_si"])
            out[row] = [
                o1.sum(), s1.sum(),
                d_o.mean() if d_o.size else c_so, d_o.min() if d_o.size else c_so,
                d_o.max() if d_o.size else c_so,
                d_s.mean() if d_s.size else c_ss, d_s.min() if d_s.size else c_ss,
                d_s.max() if d_s.size else c_ss,
                dd[is_o[jj]].min() if is_o[jj].any() else r_max,
                dd[~is_o[jj]].min() if (~is_o[jj]).any() else r_max,
                ang.mean() if ang.size else 0.0, ang.std() if ang.size else 0.0,
                ang_o.mean() if ang_o.size else 0.0, ang_o.std() if ang_o.size else 0.0,
                np.mean(bridges) if bridges else 180.0, np.min(bridges) if bridges else 180.0,
                n_si_of_o[jj[o1]].mean() if o1.any() else 0.0,
                si2.sum(), o2.sum(),
                n_o_of[jj[si_near]].mean() if si_near.any() else 0.0,
                is_o[jj].sum(), (~is_o[jj]).sum(),
                len(jj) / (4.0 / 3.0 * np.pi * r_max**3),
                first.sum(),
            ]
        return out
