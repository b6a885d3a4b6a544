"""Network statistics of a SiOx cell: Si and O coordination, density, Si-O-Si bond angles.

Used to judge a melt-quench schedule (``benchmarks/studies/quench_schedule/bench_quench_schedule.py``,
docs/structures.md): real a-SiO2 is a network of corner-sharing SiO4 tetrahedra, i.e. every Si
has four O neighbours and every O two Si neighbours, with Si-O-Si angles spread around ~145 deg
and a density of 2.20 g/cm3.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

SI_O_BOND = 2.10  # Angstrom, the Si-O cutoff of amorphxas.sites (middle of the empty gap)
AMU_G = 1.66053906660e-24  # g
ANGLE_BINS = np.linspace(90.0, 180.0, 19)  # deg, 5 deg bins


def network_statistics(atoms: Atoms, cutoff: float = SI_O_BOND) -> dict:
    """Coordination, density and Si-O-Si angle statistics of one periodic Si/O cell.

    Returns a JSON-able dict: ``n_si``, ``n_o``, ``x`` (n_O / n_Si), ``density_g_cm3``,
    ``si_coordination`` (counts of Si with 0, 1, ... O within ``cutoff`` Angstrom),
    ``o_coordination`` (counts of O with 0, 1, ... Si), ``frac_si4`` (fraction of Si with exactly
    four O), ``frac_si_over`` (more than four), ``frac_o2`` (fraction of O with exactly two Si),
    ``sio_si_angle_mean`` / ``_std`` / ``_median`` (deg, every Si-O-Si angle at every O with >= 2
    Si neighbours) and ``sio_si_angle_hist`` (counts in 5-degree bins ``angle_bins`` 90..180).
    """
    symbols = np.array(atoms.get_chemical_symbols())
    is_si, is_o = symbols == "Si", symbols == "O"
    i, j, vec = neighbor_list("ijD", atoms, cutoff)
    bond = is_si[i] & is_o[j]
    si_coord = np.bincount(i[bond], minlength=len(atoms))[is_si]
    o_coord = np.bincount(j[bond], minlength=len(atoms))[is_o]
    angles = _si_o_si_angles(j[bond], vec[bond])
    n_si, n_o = int(is_si.sum()), int(is_o.sum())
    density = float(atoms.get_masses().sum() * AMU_G / (atoms.get_volume() * 1e-24))
    hist = np.histogram(angles, bins=ANGLE_BINS)[0] if angles.size else np.zeros(18, int)
    return {
        "n_si": n_si, "n_o": n_o, "x": n_o / n_si if n_si else float("nan"),
        "density_g_cm3": round(density, 4),
        "si_coordination": np.bincount(si_coord, minlength=5).tolist(),
        "o_coordination": np.bincount(o_coord, minlength=3).tolist() if n_o else [],
        "frac_si4": float(np.mean(si_coord == 4)) if n_si else float("nan"),
        "frac_si_over": float(np.mean(si_coord > 4)) if n_si else float("nan"),
        "frac_o2": float(np.mean(o_coord == 2)) if n_o else float("nan"),
        "sio_si_angle_mean": float(angles.mean()) if angles.size else float("nan"),
        "sio_si_angle_std": float(angles.std()) if angles.size else float("nan"),
        "sio_si_angle_median": float(np.median(angles)) if angles.size else float("nan"),
        "sio_si_angle_hist": hist.tolist(),
        "angle_bins": ANGLE_BINS.tolist(),
    }


def _si_o_si_angles(o: np.ndarray, si_to_o: np.ndarray) -> np.ndarray:
    """Every Si-O-Si angle (deg) from the Si->O bond vectors (minimum image), shape (n_angles,)."""
    out = []
    order = np.argsort(o, kind="stable")
    o_sorted, vec = o[order], -si_to_o[order]  # O -> Si vectors
    starts = np.flatnonzero(np.r_[True, o_sorted[1:] != o_sorted[:-1]])
    ends = np.r_[starts[1:], len(o_sorted)]
    for a, b in zip(starts, ends):
        v = vec[a:b]
        for p in range(len(v)):
            for q in range(p + 1, len(v)):
                c = v[p] @ v[q] / (np.linalg.norm(v[p]) * np.linalg.norm(v[q]))
                out.append(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
    return np.array(out)
