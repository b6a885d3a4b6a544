"""A cell-level domain check: has the distribution of the site features of a whole structure
shifted from the training cells', even when every site alone looks ordinary?

Per valence k (0..4) the pool's sites (every Si of the dataset, spectra or not) give a mean
``mu_k`` and a standard deviation ``sd_k`` of each feature. A structure's shift is, per feature
j, the mean over its Si of valence 0..4 of ``(f_ij - mu_{k_i, j}) / sd_{k_i, j}``; its score is
the largest ``|shift_j|`` (units: pool standard deviations of a site). A cell of another
interatomic potential whose Si-O bonds are all a little shorter moves this mean by several site
standard deviations, while a single site of it stays inside the site-level kNN check.

The threshold is ``CELL_MARGIN`` times the largest score of the pool's own cells, each computed
leave one cell out (its shift against the statistics of the other cells): what a new cell of the
same family reaches.
"""

from __future__ import annotations

import numpy as np

N_VALENCE = 5
MIN_SITES = 5  # fewer Si of valence 0..4 in a structure: no cell-level score
CELL_MARGIN = 1.25


def valence_statistics(F: np.ndarray, valence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (5, d), std (5, d)) of the features F (n, d) per valence 0..4 (all sites for a
    valence with fewer than two sites; std 1 where a feature is constant)."""
    F, valence = np.asarray(F, float), np.asarray(valence)
    mean, sd = np.empty((N_VALENCE, F.shape[1])), np.empty((N_VALENCE, F.shape[1]))
    for k in range(N_VALENCE):
        rows = valence == k
        ref = F[rows] if rows.sum() >= 2 else F
        mean[k], s = ref.mean(axis=0), ref.std(axis=0)
        sd[k] = np.where(s > 1e-9, s, 1.0)
    return mean, sd


def cell_shift(F, valence, mean, sd) -> tuple[float, np.ndarray]:
    """(score, shift (d,)) of one structure's sites F (n, d) with their valences (see the
    module docstring); score NaN when fewer than :data:`MIN_SITES` Si of valence 0..4."""
    F, valence = np.asarray(F, float), np.rint(np.asarray(valence, float)).astype(int)
    rows = (valence >= 0) & (valence < N_VALENCE)
    if rows.sum() < MIN_SITES:
        return float("nan"), np.full(F.shape[1], np.nan)
    v = valence[rows]
    shift = ((F[rows] - mean[v]) / sd[v]).mean(axis=0)
    return float(np.max(np.abs(shift))), shift


def fit_cell_shift(F, valence, cell_id, margin: float = CELL_MARGIN) -> dict:
    """Arrays and threshold of the check fitted on the pool: {"cell_mean", "cell_sd",
    "cell_threshold", "cell_loo_scores" {cell: score}}."""
    F, valence, cell_id = np.asarray(F, float), np.asarray(valence), np.asarray(cell_id).astype(str)
    mean, sd = valence_statistics(F, valence)
    loo = {}
    for c in np.unique(cell_id):
        rows = cell_id == c
        if (~rows).sum() >= 2:
            m, s = valence_statistics(F[~rows], valence[~rows])
            loo[str(c)] = cell_shift(F[rows], valence[rows], m, s)[0]
    finite = [x for x in loo.values() if np.isfinite(x)]
    threshold = margin * max(finite) if finite else float("inf")
    return {"cell_mean": mean, "cell_sd": sd, "cell_threshold": float(threshold),
            "cell_loo_scores": loo}
