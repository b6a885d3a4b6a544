"""Measured-like training data: site-spectrum mixtures and beamline perturbations.

A measured Si K-edge spectrum is the sum of the absorption of every Si in the beam, so it is a
convex combination of site spectra, and its mean valence / mean Bader charge / mean RDF is the
same combination of the sites' values. **Site-spectrum mixtures** are such combinations of the
dataset's real DFT site spectra (raw, aligned, un-normalised: absorption adds before any
normalisation), each with its exact target ``weights @ y``:

- ``single``: one site (weight 1);
- ``subset``: a random subset of 2-12 sites with equal weights;
- ``cell``: all sites with a spectrum of one cell (equal weights), the cell's averaged spectrum;
- ``dirichlet``: Si0..Si4+ fractions drawn from a Dirichlet distribution (some valences absent),
  each valence's share split over 1-4 random sites of that valence.

:func:`perturb` then adds what a beamline adds to a spectrum (edge-step-normalised units, on
``COMMON_GRID``): an energy shift (calibration error, eV), extra Gaussian broadening (resolution,
eV), a linear background (pre-edge slope: its rise over the 50 eV grid as a fraction of the edge
step), a quadratic background (normalisation error), Gaussian noise (fraction of the edge step),
a scale and an offset; the result is re-normalised exactly as :func:`preprocess` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.inverse.preprocess import POST_EDGE, PRE_EDGE, InverseInputError, window_mask

MIXTURE_KINDS = ("single", "subset", "cell", "dirichlet")
DEFAULT_KIND_SHARES = {"single": 0.2, "subset": 0.2, "cell": 0.1, "dirichlet": 0.5}
GRID_SPAN_EV = float(COMMON_GRID[-1] - COMMON_GRID[0])  # 50 eV


def site_spectrum_mixtures(cell_id, valence, n: int, seed: int = 0,
                           shares: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weights of ``n`` site-spectrum mixtures over the given sites.

    ``cell_id`` (n_sites,), ``valence`` (n_sites,) integer O-neighbour counts; ``shares``: fraction
    of each kind (:data:`DEFAULT_KIND_SHARES`). Returns (weights (n, n_sites), each row >= 0 and
    summing to 1; kinds (n,) str). Mix with :func:`mix`.
    """
    cell_id = np.asarray(cell_id, dtype=object)
    valence = np.rint(np.asarray(valence, dtype=float)).astype(int)
    n_sites = cell_id.size
    if n_sites == 0 or valence.shape != (n_sites,):
        raise InverseInputError(f"site-spectrum mixtures: {n_sites} sites, {valence.shape} valences")
    shares = dict(DEFAULT_KIND_SHARES if shares is None else shares)
    unknown = set(shares) - set(MIXTURE_KINDS)
    if unknown or not n >= 0 or sum(shares.values()) <= 0:
        raise InverseInputError(f"site-spectrum mixtures: bad kinds/shares {shares}")
    rng = np.random.default_rng(seed)
    names = [k for k in MIXTURE_KINDS if shares.get(k, 0) > 0]
    p = np.array([shares[k] for k in names], dtype=float)
    kinds = np.array(names, dtype=object)[rng.choice(len(names), size=n, p=p / p.sum())]
    cells = sorted(set(cell_id.tolist()))
    by_cell = [np.flatnonzero(cell_id == c) for c in cells]
    classes = np.unique(valence)
    by_valence = {v: np.flatnonzero(valence == v) for v in classes}
    W = np.zeros((n, n_sites))
    for row, kind in enumerate(kinds):
        if kind == "single":
            W[row, rng.integers(n_sites)] = 1.0
        elif kind == "subset":
            k = int(rng.integers(min(2, n_sites), min(12, n_sites) + 1))
            W[row, rng.choice(n_sites, size=k, replace=False)] = 1.0 / k
        elif kind == "cell":
            members = by_cell[rng.integers(len(by_cell))]
            W[row, members] = 1.0 / members.size
        else:  # dirichlet over the valences present, some valences left out
            present = classes[rng.random(classes.size) < 0.7]
            if present.size == 0:
                present = classes[[rng.integers(classes.size)]]
            alpha = float(rng.choice([0.3, 1.0, 3.0]))
            fractions = rng.dirichlet(np.full(present.size, alpha))
            for v, f in zip(present, fractions):
                pool = by_valence[v]
                picks = rng.choice(pool, size=min(int(rng.integers(1, 5)), pool.size), replace=False)
                W[row, picks] += f / picks.size
    W /= W.sum(axis=1, keepdims=True)
    return W, kinds.astype(str)


def mix(weights, raw, y) -> tuple[np.ndarray, np.ndarray]:
    """(spectra (n, m) = weights @ raw, targets = weights @ y): the exact weighted means.

    ``weights`` (n, n_sites) from :func:`site_spectrum_mixtures`; ``raw`` (n_sites, m) raw site
    spectra (mix before normalising); ``y`` (n_sites,) or (n_sites, k) site targets.
    """
    weights, raw, y = (np.asarray(a, dtype=float) for a in (weights, raw, y))
    if weights.ndim != 2 or weights.shape[1] != raw.shape[0] or y.shape[0] != raw.shape[0]:
        raise InverseInputError(f"mix: weights {weights.shape}, spectra {raw.shape}, targets {y.shape}")
    if np.any(weights < 0) or not np.allclose(weights.sum(axis=1), 1.0):
        raise InverseInputError("mix: weights must be non-negative and sum to 1 per mixture")
    return weights @ raw, weights @ y


def renormalise(X, grid: np.ndarray = COMMON_GRID) -> np.ndarray:
    """Vectorised :func:`preprocess` for spectra already on ``grid``: subtract the pre-edge mean
    (1830-1833 eV), divide by the post-edge mean (1865-1880 eV). ``X`` (n, len(grid))."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    pre, post = window_mask(grid, PRE_EDGE), window_mask(grid, POST_EDGE)
    X = X - X[:, pre].mean(axis=1, keepdims=True)
    step = X[:, post].mean(axis=1, keepdims=True)
    if np.any(~np.isfinite(step)) or np.any(step <= 0):
        raise InverseInputError("a spectrum has no positive post-edge step (1865-1880 eV)")
    return X / step


@dataclass(frozen=True)
class Beamline:
    """Ranges of the beamline perturbations drawn by :func:`perturb` (one draw per spectrum).

    shift_sd_eV: energy-calibration error, normal (eV); shift_max_eV: uniform +- range added on top
    (eV, 0 = none); broadening_max_eV: extra Gaussian sigma, uniform 0..max (eV); slope_max: linear
    background, uniform +-max, its rise over the 50 eV grid in edge steps; curvature_max: quadratic
    background, uniform +-max (edge steps); noise_max: noise sd, uniform 0..max (edge steps);
    scale_sd: relative scale error; offset_max: constant offset (edge steps).
    """

    shift_sd_eV: float = 0.3
    shift_max_eV: float = 0.0
    broadening_max_eV: float = 0.6
    slope_max: float = 0.3
    curvature_max: float = 0.05
    noise_max: float = 0.02
    scale_sd: float = 0.05
    offset_max: float = 0.05

    def as_dict(self) -> dict:
        return asdict(self)


CLEAN = Beamline(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def apply_beamline(X, shift_eV=0.0, broadening_eV=0.0, slope=0.0, curvature=0.0, noise=0.0,
                   scale=1.0, offset=0.0, rng=None, grid: np.ndarray = COMMON_GRID) -> np.ndarray:
    """Apply given perturbations (scalars or (n,) arrays, units as in :class:`Beamline`) to
    normalised spectra ``X`` (n, len(grid)); returns re-normalised spectra (n, len(grid)).
    Outside the grid the spectrum is continued with its end values when shifting."""
    X = renormalise(X, grid)
    n = X.shape[0]
    shift, broad, slope, curv, noise, scale, offset = (
        np.broadcast_to(np.asarray(v, dtype=float), (n,))
        for v in (shift_eV, broadening_eV, slope, curvature, noise, scale, offset))
    step = float(np.median(np.diff(grid)))
    t = (grid - grid[0]) / (grid[-1] - grid[0])
    rng = np.random.default_rng(0) if rng is None else rng
    out = np.empty_like(X)
    for k in range(n):
        x = X[k]
        if broad[k] > 0:
            x = gaussian_filter1d(x, broad[k] / step, mode="nearest")
        if shift[k] != 0:
            x = np.interp(grid - shift[k], grid, x)
        x = x + slope[k] * t + curv[k] * t ** 2
        if noise[k] > 0:
            x = x + noise[k] * rng.standard_normal(x.size)
        out[k] = scale[k] * x + offset[k]
    return renormalise(out, grid)


def perturb(X, beamline: Beamline = Beamline(), seed: int = 0,
            grid: np.ndarray = COMMON_GRID) -> tuple[np.ndarray, dict]:
    """Random beamline perturbations of normalised spectra ``X`` (n, 256), one draw per row.

    Returns (perturbed spectra (n, 256), the drawn values {name: (n,)}) ."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    b = beamline
    draws = {
        "shift_eV": b.shift_sd_eV * rng.standard_normal(n) + rng.uniform(-1, 1, n) * b.shift_max_eV,
        "broadening_eV": rng.uniform(0, 1, n) * b.broadening_max_eV,
        "slope": rng.uniform(-1, 1, n) * b.slope_max,
        "curvature": rng.uniform(-1, 1, n) * b.curvature_max,
        "noise": rng.uniform(0, 1, n) * b.noise_max,
        "scale": 1.0 + b.scale_sd * rng.standard_normal(n),
        "offset": rng.uniform(-1, 1, n) * b.offset_max,
    }
    draws["scale"] = np.clip(draws["scale"], 0.5, 1.5)
    return apply_beamline(X, **draws, rng=rng, grid=grid), draws
