"""Per-Si-site analysis: valence (O neighbours), [SiSi_nO_m] motif, per-site RDF, cell density.

Default cutoffs (measured, see docs/structures.md):

* Si-O 2.10 A. Over 18 melt-quenched cells (both protocols, x = 0..2, Munetoh Tersoff) the
  Si-O first peak is at 1.63-1.71 A and *no* Si-O distance falls between 1.85 and 2.35 A (the
  potential's Si-O interaction ends at 2.215 + 0.155 = 2.37 A); 2.10 A is the middle of that
  empty gap, so the valence does not depend on the exact choice. In alpha-quartz the fifth O is
  > 3.9 A from Si.
* Si-Si 2.65 A. Bonded Si-Si sits at 2.2-2.55 A (2.35 A in diamond) and non-bonded Si...Si
  (Si-O-Si bridges, second neighbours) starts at 2.75 A; no Si-Si distance falls between 2.55
  and 2.75 A in those cells, 2.65 A is the middle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from amorphxas.sites.rdf import RDF_POINTS, RDF_R_MAX, RDF_SIGMA, site_rdfs
from amorphxas.structures.io import validate_structure

SI_O_CUTOFF = 2.10  # Angstrom
SI_SI_CUTOFF = 2.65  # Angstrom
# Si0..Si4+ are the valence classes; more O neighbours (over-coordination, a Tersoff / short-quench
# artefact) is not a class of its own for selection and learning
MAX_VALENCE = 4
AMU_G = 1.66053906660e-24


@dataclass
class SiteAnalysis:
    """Per-Si-site results; arrays are aligned with ``index`` (atom indices of the Si atoms)."""

    index: np.ndarray  # (n_si,) int
    valence: np.ndarray  # (n_si,) int: number of O within the Si-O cutoff
    n_si_neighbours: np.ndarray  # (n_si,) int: number of Si within the Si-Si cutoff
    motif: np.ndarray  # (n_si,) str, e.g. "SiSi2O2"
    rdf: np.ndarray  # (n_si, 256) per-site g_i(R)
    rdf_r: np.ndarray  # (256,) R in Angstrom
    density_g_cm3: float
    number_density: float  # atoms / A^3
    composition_x: float  # n_O / n_Si
    n_si: int
    n_o: int
    cutoffs: dict

    def records(self, include_rdf: bool = False) -> list[dict]:
        """One JSON-able dict per Si site: index, valence, motif (and rdf if ``include_rdf``)."""
        out = []
        for k in range(len(self.index)):
            rec = {"index": int(self.index[k]), "valence": int(self.valence[k]),
                   "motif": str(self.motif[k])}
            if include_rdf:
                rec["rdf"] = [float(v) for v in self.rdf[k]]
            out.append(rec)
        return out

    def valence_counts(self) -> np.ndarray:
        """Counts of Si with 0, 1, 2, 3, 4 (and 5, ... if present) O neighbours."""
        return np.bincount(self.valence, minlength=5)


def motif_label(n_si: int, n_o: int) -> str:
    """[SiSi_nO_m] label of a Si site with ``n_si`` Si and ``n_o`` O neighbours: 'SiSi2O2',
    'SiO4', 'SiSi4'; a zero count is omitted ('Si' for an isolated atom)."""
    label = "Si"
    if n_si:
        label += f"Si{n_si}"
    if n_o:
        label += f"O{n_o}"
    return label


def analyse(atoms: Atoms, cutoff: float | None = None, si_si_cutoff: float | None = None,
            rdf_sigma: float = RDF_SIGMA, with_rdf: bool = True) -> SiteAnalysis:
    """Analyse every Si site of a periodic Si/O cell.

    ``cutoff`` is the Si-O bond cutoff (default 2.10 A), ``si_si_cutoff`` the Si-Si one (default
    2.65 A). The per-site RDF follows study 2 (all atoms within 5 A, 256 points, normalised by
    4 pi R^2 rho with rho the total number density) with Gaussian smearing ``rdf_sigma``.
    """
    validate_structure(atoms, source="structure")
    c_so = SI_O_CUTOFF if cutoff is None else float(cutoff)
    c_ss = SI_SI_CUTOFF if si_si_cutoff is None else float(si_si_cutoff)
    symbols = np.array(atoms.get_chemical_symbols())
    is_si = symbols == "Si"
    index = np.flatnonzero(is_si)
    i, j, d = neighbor_list("ijd", atoms, max(c_so, c_ss), self_interaction=False)
    centre_si = is_si[i]
    o_bond = centre_si & (symbols[j] == "O") & (d < c_so)
    s_bond = centre_si & is_si[j] & (d < c_ss)
    valence = np.bincount(i[o_bond], minlength=len(atoms))[index]
    n_si_nb = np.bincount(i[s_bond], minlength=len(atoms))[index]
    motif = np.array([motif_label(int(s), int(o)) for s, o in zip(n_si_nb, valence)], dtype=object)
    if with_rdf:
        r, g = site_rdfs(atoms, index, sigma=rdf_sigma)
    else:
        from amorphxas.sites.rdf import rdf_grid

        r, g = rdf_grid(), np.zeros((len(index), RDF_POINTS))
    n_si, n_o = int(is_si.sum()), int((symbols == "O").sum())
    volume = atoms.get_volume()
    return SiteAnalysis(
        index=index.astype(int),
        valence=valence.astype(int),
        n_si_neighbours=n_si_nb.astype(int),
        motif=motif,
        rdf=g,
        rdf_r=r,
        density_g_cm3=float(atoms.get_masses().sum() * AMU_G / (volume * 1e-24)),
        number_density=float(len(atoms) / volume),
        composition_x=float(n_o / n_si),
        n_si=n_si,
        n_o=n_o,
        cutoffs={"si_o": c_so, "si_si": c_ss, "rdf_r_max": RDF_R_MAX, "rdf_points": RDF_POINTS,
                 "rdf_sigma": float(rdf_sigma)},
    )
