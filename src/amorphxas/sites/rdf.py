"""Radial distribution functions on ASE neighbour lists (periodic boundaries handled by ASE).

No DScribe here: with ``ase.neighborlist.neighbor_list`` returning every pair distance under PBC,
a per-site or partial g(r) is a histogram (or a Gaussian sum) divided by the ideal-gas shell count,
i.e. a few lines of numpy, with the normalisation in plain sight.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

RDF_R_MAX = 5.0  # Angstrom (study 2)
RDF_POINTS = 256  # study 2
RDF_SIGMA = 0.05  # Angstrom, Gaussian smearing of each neighbour distance


def rdf_grid(r_max: float = RDF_R_MAX, n_points: int = RDF_POINTS) -> np.ndarray:
    """Bin centres (k + 1/2) * r_max / n_points: 256 points on (0, 5) A, never R = 0."""
    dr = r_max / n_points
    return (np.arange(n_points) + 0.5) * dr


def number_density(atoms: Atoms) -> float:
    """Total atomic number density (atoms / A^3) of the cell."""
    return len(atoms) / atoms.get_volume()


def site_rdfs(atoms: Atoms, centres, r_max: float = RDF_R_MAX, n_points: int = RDF_POINTS,
              sigma: float = RDF_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """Per-site g_i(R) = (1 / (4 pi R^2 rho)) dN_i/dR for each atom index in ``centres``.

    N_i(R) counts all atoms (Si and O) around atom i; each neighbour at distance r_ij contributes
    a normalised Gaussian of width ``sigma`` to dN_i/dR; rho is the total number density of the
    cell (study 2's definition). Returns (r, g) with g of shape (len(centres), n_points).
    """
    centres = np.asarray(centres, dtype=int)
    r = rdf_grid(r_max, n_points)
    g = np.zeros((len(centres), n_points))
    if len(centres) == 0:
        return r, g
    cutoff = r_max + 5.0 * sigma
    i, d = neighbor_list("id", atoms, cutoff, self_interaction=False)
    row = np.full(len(atoms), -1)
    row[centres] = np.arange(len(centres))
    sel = row[i] >= 0
    rows, d = row[i[sel]], d[sel]
    norm = 1.0 / (np.sqrt(2.0 * np.pi) * sigma)
    # chunk over pairs to bound memory: (n_pairs x n_points)
    for start in range(0, len(d), 20000):
        dd = d[start:start + 20000]
        kern = norm * np.exp(-0.5 * ((r[None, :] - dd[:, None]) / sigma) ** 2)
        np.add.at(g, rows[start:start + 20000], kern)
    g /= 4.0 * np.pi * r**2 * number_density(atoms)
    return r, g


def partial_rdf(atoms: Atoms, pair=("Si", "O"), r_max: float = 6.0,
                n_bins: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Cell-level partial g_ab(r) (histogram, no smearing), normalised to 1 at large r.

    g_ab(r) = n_ab(r) / (N_a * rho_b * 4 pi r^2 dr), with n_ab the number of (a, b) pairs (a as
    centre) in the shell and rho_b = N_b / V (N_b - 1 when a == b).
    """
    a, b = pair
    symbols = np.array(atoms.get_chemical_symbols())
    n_a, n_b = int(np.sum(symbols == a)), int(np.sum(symbols == b))
    edges = np.linspace(0.0, r_max, n_bins + 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    if n_a == 0 or n_b - (a == b) <= 0:
        return r, np.zeros(n_bins)
    i, j, d = neighbor_list("ijd", atoms, r_max, self_interaction=False)
    sel = (symbols[i] == a) & (symbols[j] == b)
    hist, _ = np.histogram(d[sel], bins=edges)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    rho_b = (n_b - (1 if a == b else 0)) / atoms.get_volume()
    return r, hist / (n_a * rho_b * shell)


def first_peak(r, g, window=None) -> float:
    """Position of the first peak of g(r).

    With ``window=(r_lo, r_hi)``: the maximum of g inside the window (NaN if g is zero there).
    Without: the maximum of the first contiguous region where g exceeds 10% of its global maximum.
    The position is refined by a parabola through the maximum and its two neighbours.
    """
    r, g = np.asarray(r, dtype=float), np.asarray(g, dtype=float)
    if window is not None:
        mask = (r >= window[0]) & (r <= window[1])
    else:
        if not np.any(g > 0):
            return float("nan")
        above = g > 0.1 * g.max()
        start = int(np.argmax(above))
        stop = start + (int(np.argmin(above[start:])) if not above[start:].all()
                        else len(g) - start)
        mask = np.zeros_like(above)
        mask[start:stop] = True
    idx = np.flatnonzero(mask)
    if len(idx) == 0 or not np.any(g[idx] > 0):
        return float("nan")
    k = int(idx[np.argmax(g[idx])])
    if 0 < k < len(g) - 1:
        y0, y1, y2 = g[k - 1], g[k], g[k + 1]
        denom = y0 - 2.0 * y1 + y2
        if denom < 0:
            shift = 0.5 * (y0 - y2) / denom
            return float(r[k] + shift * (r[k + 1] - r[k]))
    return float(r[k])


def first_minimum(r, g, after: float) -> float:
    """First local minimum of g after the position ``after`` (e.g. the first peak)."""
    r, g = np.asarray(r, dtype=float), np.asarray(g, dtype=float)
    idx = np.flatnonzero(r > after)
    for k in idx[1:-1]:
        if g[k] <= g[k - 1] and g[k] < g[k + 1]:
            return float(r[k])
    return float("nan")
