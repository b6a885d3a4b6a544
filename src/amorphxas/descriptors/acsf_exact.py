"""ACSF angular terms (G4) with the angular base clipped at 0: the exact value at 0 and 180 degrees.

DScribe 2.1 evaluates ``2 * pow(0.5 * (1 + lambda cos(theta)), zeta)`` with ``cos(theta)`` from
the law of cosines. For a linear triplet (a Si-O-Si angle of exactly 180 degrees, as in ideal
beta-cristobalite, or two neighbours on one line from the centre) rounding gives
``1 + lambda cos(theta) = -1e-16``, and a non-integer ``zeta`` (the study-1 grid runs from 1 to
128 geometrically) turns the whole G4 sum of that site into NaN. The true term is 0 (a
vanishing base to a positive power). :func:`g4_block` recomputes the G4 block of such sites with
the same formula and neighbour rules as DScribe's ``acsf.cpp`` (neighbours j, k within
``r_cut`` inclusive, triplet skipped when r_jk > r_cut, cosine cutoff on all three distances,
each unordered neighbour pair once), with the base clipped at 0. It agrees with DScribe to
rounding on every site that DScribe gets right (tested).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms


def _cutoff(r: np.ndarray, r_cut: float) -> np.ndarray:
    return 0.5 * (np.cos(r * np.pi / r_cut) + 1.0)


def g4_block(atoms: Atoms, centres: np.ndarray, r_cut: float, g4_params,
             atomic_numbers) -> np.ndarray:
    """G4 features (n_centre, n_pairs * n_g4) in DScribe's column order.

    ``atoms``: periodic cell (positions in Angstrom); ``centres``: atom indices; ``g4_params``:
    rows (eta [1/A^2], zeta, lambda); ``atomic_numbers``: DScribe's species order (the pair of
    species indices (a >= b) goes to block a (a + 1) / 2 + b).
    """
    from ase.neighborlist import neighbor_list

    params = np.asarray(g4_params, dtype=np.float64).reshape(-1, 3)
    eta, zeta, lam = params[:, 0], params[:, 1], params[:, 2]
    index_of = {int(z): k for k, z in enumerate(atomic_numbers)}
    n_types = len(index_of)
    n_pairs = n_types * (n_types + 1) // 2
    n_g4 = len(params)
    out = np.zeros((len(centres), n_pairs * n_g4))
    # a hair beyond r_cut so that DScribe's inclusive test (r <= r_cut) keeps the same atoms;
    # the cutoff function is 0 there, so an extra neighbour at exactly r_cut adds nothing
    i_all, j_all, d_all, D_all = neighbor_list("ijdD", atoms, r_cut * (1 + 1e-12),
                                               self_interaction=False)
    species = np.array([index_of[int(z)] for z in atoms.numbers])
    step = max(1, 2 ** 22 // max(1, n_g4))
    for row, c in enumerate(np.asarray(centres, dtype=int)):
        sel = i_all == c
        r, vec, t = d_all[sel], D_all[sel], species[j_all[sel]]
        if r.size < 2:
            continue
        j_all3, k_all3 = np.triu_indices(r.size, 1)
        for s in range(0, j_all3.size, step):  # bounded memory: ~32 MB per array
            j, k = j_all3[s:s + step], k_all3[s:s + step]
            r_jk = np.linalg.norm(vec[j] - vec[k], axis=1)
            keep = r_jk <= r_cut
            j, k, r_jk = j[keep], k[keep], r_jk[keep]
            r_ij, r_ik = r[j], r[k]
            cos = (r_ij ** 2 + r_ik ** 2 - r_jk ** 2) / (2.0 * r_ij * r_ik)
            fc = _cutoff(r_ij, r_cut) * _cutoff(r_ik, r_cut) * _cutoff(r_jk, r_cut)
            a, b = np.maximum(t[j], t[k]), np.minimum(t[j], t[k])
            pair = a * (a + 1) // 2 + b
            r2 = (r_ij ** 2 + r_ik ** 2 + r_jk ** 2)[:, None]
            base = np.clip(0.5 * (1.0 + lam[None, :] * cos[:, None]), 0.0, None)
            terms = 2.0 * base ** zeta[None, :] * np.exp(-eta[None, :] * r2) * fc[:, None]
            for p in range(n_pairs):
                on = pair == p
                if on.any():
                    out[row, p * n_g4:(p + 1) * n_g4] += terms[on].sum(axis=0)
    return out
