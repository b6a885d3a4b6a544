"""Active learning: which Si sites to compute next.

``ur`` (study 1's uncertainty reduction): the total predictive variance over the whole pool is,
up to the noise factor s2(E) common to all sites,

    V(S) = sum_{p in pool} x_p^T M_S^-1 x_p,      M_S = X_S^T X_S + alpha I,

with x the descriptor rows centred on a fixed mean (the pool mean) and S the training set. It
needs no spectra. Adding a candidate c changes M^-1 by a rank-one (Sherman-Morrison) update, and
the reduction is

    V(S) - V(S + c) = (u_c^T C u_c) / (1 + x_c^T u_c),   u_c = M_S^-1 x_c,  C = X_pool^T X_pool.

The batch is greedy: take the best candidate, update M^-1, repeat (``n`` sites that a campaign can
run in parallel, since no spectrum is needed between picks). That is :class:`LeverageUR` (study 1's
descriptor ridge). :class:`PosteriorUR` is the same criterion for the default forward model (kernel
ridge, :mod:`amorphxas.forward.compact`): with ``C`` its label-free posterior covariance over the
pool (noise units) and ``w_p`` the calibrated noise of site p summed over energies, the summed
predictive variance is ``sum_p w_p (1 + C_pp)``, labelling c lowers it by
``sum_p w_p C_pc^2 / (1 + C_cc)`` and updates ``C <- C - C_:c C_c: / (1 + C_cc)``;
:class:`EnsemblePosteriorUR` averages it over the members of the default ensemble
(:mod:`amorphxas.forward.select_compact` wires it to ``amorphxas select``). ``random`` and
``stratified`` (round robin over valences, the least-represented first) are the baselines.
``ur-stratified`` is the campaign's choice while the dataset must still fill every valence class:
every valence below 60 training sites keeps at least 20 % of each batch, the other picks go to the
least-filled valence still below 60 (then to plain UR once all have 60), the site within a class by
UR (greedy, the same rank-one updates). ``select_with_test_reserve`` keeps the fixed 20 % test
reserve (:mod:`amorphxas.dataset.testset`) out of training and spends 20 % of every batch on it at
random.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from amorphxas.core.validation import check_matrix
from amorphxas.forward.ridge import ForwardError

STRATEGIES = ("ur", "random", "stratified", "ur-stratified")


def total_variance(X_pool, X_train, alpha: float, centre=None) -> float:
    """V(S) above (a direct computation, used to check the greedy update)."""
    X_pool = np.asarray(X_pool, dtype=float)
    mu = X_pool.mean(axis=0) if centre is None else np.asarray(centre, dtype=float)
    P = X_pool - mu
    T = np.asarray(X_train, dtype=float).reshape(-1, P.shape[1]) - mu
    M = T.T @ T + alpha * np.eye(P.shape[1])
    return float(np.sum(P * np.linalg.solve(M, P.T).T))


def variance_reduction(X_pool, X_train, alpha: float, candidates=None, centre=None) -> np.ndarray:
    """Reduction of V if each candidate row of ``X_pool`` (default: all) were added to training."""
    X_pool = check_matrix(X_pool, "pool descriptors", error=ForwardError)
    mu = X_pool.mean(axis=0) if centre is None else np.asarray(centre, dtype=float)
    P = X_pool - mu
    d = P.shape[1]
    T = np.asarray(X_train, dtype=float).reshape(-1, d) - mu
    m_inv = np.linalg.inv(T.T @ T + alpha * np.eye(d))
    cand = np.arange(P.shape[0]) if candidates is None else np.asarray(candidates, dtype=int)
    return _reductions(P[cand], m_inv, P.T @ P)


def _reductions(Xc, m_inv, C):
    U = Xc @ m_inv
    return np.sum((U @ C) * U, axis=1) / (1.0 + np.sum(U * Xc, axis=1))


def _check_pool(X_pool, alpha: float) -> np.ndarray:
    """The pool descriptors (n_pool, d) as a finite float array, and a positive ``alpha``."""
    X_pool = check_matrix(X_pool, "pool descriptors", error=ForwardError)
    if not alpha > 0:
        raise ForwardError(f"alpha must be positive, got {alpha}")
    return X_pool


class LeverageUR:
    """Study 1's criterion on descriptor rows: reductions of V(S) above, rank-one updates of M^-1."""

    def __init__(self, X_pool, train_mask, alpha: float):
        X_pool = _check_pool(X_pool, alpha)
        train_mask = np.asarray(train_mask, dtype=bool)
        if train_mask.shape != (X_pool.shape[0],):
            raise ForwardError(f"train mask has {train_mask.size} entries, pool has "
                               f"{X_pool.shape[0]} rows")
        self.n_pool = X_pool.shape[0]
        self.P = X_pool - X_pool.mean(axis=0)
        T = self.P[train_mask]
        self.m_inv = np.linalg.inv(T.T @ T + alpha * np.eye(self.P.shape[1]))
        self.C = self.P.T @ self.P

    def reductions(self, rows) -> np.ndarray:
        return _reductions(self.P[rows], self.m_inv, self.C)

    def add(self, c: int) -> None:
        u = self.m_inv @ self.P[c]
        self.m_inv = self.m_inv - np.outer(u, u) / (1.0 + self.P[c] @ u)


class PosteriorUR:
    """The same greedy criterion on a kernel / Gaussian posterior (the default forward model).

    ``cov`` (n_pool, n_pool): posterior covariance of the pool rows in units of the noise
    (:meth:`amorphxas.forward.compact.CompactSpectrum.posterior_covariance`, conditioned on the
    training rows); ``weight`` (n_pool,): the noise of each row summed over energies
    (``noise_per_site``), so ``sum_p weight_p (1 + cov_pp)`` is the summed predictive variance
    over the pool and energies. Labelling row c (noise weight 1 in these units) lowers it by
    ``sum_p weight_p cov_pc^2 / (1 + cov_cc)``; the covariance update is the same rank one."""

    def __init__(self, cov, weight=None):
        self.C = np.array(check_matrix(cov, "pool posterior covariance", error=ForwardError))
        if self.C.shape[0] != self.C.shape[1]:
            raise ForwardError(f"pool posterior covariance must be square, got {self.C.shape}")
        self.n_pool = self.C.shape[0]
        self.w = np.ones(self.n_pool) if weight is None else np.asarray(weight, float).reshape(-1)
        if self.w.shape != (self.n_pool,) or np.any(~np.isfinite(self.w)) or np.any(self.w < 0):
            raise ForwardError(f"weights: need {self.n_pool} non-negative finite values")

    @classmethod
    def from_model(cls, estimator, X_pool) -> PosteriorUR:
        """From a fitted :class:`~amorphxas.forward.compact.CompactSpectrum` and the pool rows
        [features..., valence] (the training rows must be the ones the model was fitted on)."""
        return cls(estimator.posterior_covariance(X_pool), estimator.noise_per_site(X_pool))

    def variance(self) -> np.ndarray:
        """Current predictive variance of each pool row summed over energies (n_pool,)."""
        return self.w * (1.0 + np.maximum(np.diag(self.C), 0.0))

    def reductions(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=int)
        Cc = self.C[:, rows]
        return (self.w @ Cc**2) / (1.0 + np.maximum(self.C[rows, rows], 0.0))

    def add(self, c: int) -> None:
        u = self.C[:, c].copy()
        self.C -= np.outer(u, u) / (1.0 + max(u[c], 0.0))


class EnsemblePosteriorUR:
    """:class:`PosteriorUR` for the mean of kernel models
    (:class:`~amorphxas.forward.ensemble.EnsembleSpectrum`, the default forward model).

    The ensemble's predictive variance is ``c^2 (mean_i sigma_i^2 + var_i mu_i)``. Its label-free
    part, ``c^2 / M sum_i sum_p w_ip (1 + C_i,pp)``, is ``scale`` (``c^2 / M``) times the sum of
    the members' :class:`PosteriorUR` variances; labelling a row lowers it by ``scale`` times
    the sum of the members' reductions, each member updated in its own kernel. The spread of
    the members' means depends on the labels and is left out of the criterion."""

    def __init__(self, members: list[PosteriorUR], scale: float = 1.0):
        sizes = {m.n_pool for m in members}
        if len(sizes) != 1:
            raise ForwardError(f"ensemble UR: members cover {sorted(sizes)} pool rows")
        if not scale > 0:
            raise ForwardError(f"ensemble UR: scale must be positive, got {scale}")
        self.members, self.scale, self.n_pool = list(members), float(scale), sizes.pop()

    @classmethod
    def from_model(cls, estimator, X_pool) -> EnsemblePosteriorUR:
        """From a fitted ensemble of kernel members and the pool rows [features..., valence]."""
        members = [PosteriorUR.from_model(m, Xm)
                   for m, Xm in zip(estimator.members_, estimator.member_inputs(X_pool))]
        return cls(members, estimator.calib_scale_**2 / len(members))

    def variance(self) -> np.ndarray:
        """Label-free predictive variance of each pool row summed over energies (n_pool,)."""
        return self.scale * sum(m.variance() for m in self.members)

    def reductions(self, rows) -> np.ndarray:
        return self.scale * sum(m.reductions(rows) for m in self.members)

    def add(self, c: int) -> None:
        for m in self.members:
            m.add(c)


def posterior_engine(estimator, X_pool) -> PosteriorUR | EnsemblePosteriorUR:
    """The UR engine of a fitted compact estimator: :class:`EnsemblePosteriorUR` for an
    ensemble (``members_``), else :class:`PosteriorUR`."""
    if hasattr(estimator, "members_"):
        return EnsemblePosteriorUR.from_model(estimator, X_pool)
    return PosteriorUR.from_model(estimator, X_pool)


def _engine(engine, X_pool, train_mask, alpha):
    if engine is not None:
        if engine.n_pool != np.asarray(train_mask).size:
            raise ForwardError(f"the UR model covers {engine.n_pool} pool rows, the train mask "
                               f"{np.asarray(train_mask).size}")
        return engine
    return LeverageUR(X_pool, train_mask, alpha)


def select_ur(X_pool, train_mask, n: int, alpha: float, candidate_mask=None,
              engine=None) -> list[int]:
    """Greedy batch UR: ``n`` row indices of ``X_pool``, never in ``train_mask``, only where
    ``candidate_mask`` (default: everywhere). Every pool row counts in the summed variance.
    ``engine``: a :class:`PosteriorUR` (the default model's posterior) instead of the
    descriptor leverage of ``X_pool`` / ``alpha`` (then ``X_pool`` may be None)."""
    engine = _engine(engine, X_pool, train_mask, alpha)
    train_mask = np.asarray(train_mask, dtype=bool)
    allowed = ~train_mask if candidate_mask is None else ~train_mask & np.asarray(candidate_mask, bool)
    free = np.flatnonzero(allowed)
    chosen: list[int] = []
    for _ in range(min(n, free.size)):
        k = int(np.argmax(engine.reductions(free)))
        c = int(free[k])
        chosen.append(c)
        engine.add(c)
        free = np.delete(free, k)
    return chosen


MIN_PER_VALENCE = 60  # training sites per valence until which ur-stratified keeps its floor
VALENCE_SHARE = 0.2  # the floor: share of each batch per valence still below MIN_PER_VALENCE


def select_ur_stratified(X_pool, valence, train_mask, n: int, alpha: float,
                         candidate_mask=None, min_count: int = MIN_PER_VALENCE,
                         share: float = VALENCE_SHARE, engine=None) -> list[int]:
    """UR within valence classes while any class is below ``min_count`` training sites.

    Every class below ``min_count`` gets at least ``floor(share * n)`` of the ``n`` picks (fewer
    only if it has fewer candidates or needs fewer to reach ``min_count``). Other picks go to the
    open class (below ``min_count``) with the fewest training + chosen sites (ties: the lower
    valence); once no class is open, to the largest variance reduction over all candidates.
    Within a class: the candidate of largest variance reduction (greedy rank-one updates).
    ``engine``: as in :func:`select_ur`."""
    engine = _engine(engine, X_pool, train_mask, alpha)
    valence = np.asarray(valence, dtype=int)
    train_mask = np.asarray(train_mask, dtype=bool)
    if valence.shape != train_mask.shape or train_mask.shape != (engine.n_pool,):
        raise ForwardError(f"pool has {engine.n_pool} rows, valence {valence.size}, "
                           f"train mask {train_mask.size}")
    allowed = ~train_mask if candidate_mask is None else ~train_mask & np.asarray(candidate_mask, bool)
    counts = {int(v): int(np.sum((valence == v) & train_mask)) for v in np.unique(valence[allowed])}
    floor = int(np.floor(share * n + 1e-9))  # five classes x floor(0.2 n) always fit in n
    owed = {v: min(floor, max(min_count - counts[v], 0), int(np.sum(allowed & (valence == v))))
            for v in counts}
    chosen: list[int] = []
    while len(chosen) < n and allowed.any():
        live = [v for v in counts if np.any(allowed & (valence == v))]
        unmet = [v for v in live if owed[v] > 0]
        open_ = [v for v in live if counts[v] < min_count]
        if unmet and n - len(chosen) <= sum(owed[v] for v in unmet):
            pool = unmet  # the remaining picks are the floors still owed
        else:
            pool = open_
        if pool:
            v = min(pool, key=lambda v: (counts[v], v))
            free = np.flatnonzero(allowed & (valence == v))
        else:
            free = np.flatnonzero(allowed)
        c = int(free[np.argmax(engine.reductions(free))])
        v = int(valence[c])
        chosen.append(c)
        allowed[c] = False
        counts[v] += 1
        owed[v] = max(owed[v] - 1, 0)
        engine.add(c)
    return chosen


def select_random(train_mask, n: int, seed: int = 0, candidate_mask=None) -> list[int]:
    allowed = ~np.asarray(train_mask, dtype=bool)
    if candidate_mask is not None:
        allowed &= np.asarray(candidate_mask, bool)
    free = np.flatnonzero(allowed)
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.permutation(free)[:n]]


def select_stratified(valence, train_mask, n: int, seed: int = 0, candidate_mask=None) -> list[int]:
    """Round robin over valence classes, the class with fewest training sites first."""
    valence = np.asarray(valence, dtype=int)
    train_mask = np.asarray(train_mask, dtype=bool)
    allowed = ~train_mask if candidate_mask is None else ~train_mask & np.asarray(candidate_mask, bool)
    rng = np.random.default_rng(seed)
    groups = {int(v): list(rng.permutation(np.flatnonzero((valence == v) & allowed)))
              for v in np.unique(valence)}
    counts = {v: int(np.sum((valence == v) & train_mask)) for v in groups}
    chosen: list[int] = []
    while len(chosen) < n and any(groups.values()):
        v = min((v for v in groups if groups[v]), key=lambda v: (counts[v], v))
        chosen.append(int(groups[v].pop()))
        counts[v] += 1
    return chosen


def select_indices(strategy: str, X_pool, train_mask, n: int, alpha: float = 1.0,
                   valence=None, seed: int = 0, candidate_mask=None, engine=None) -> list[int]:
    """Row indices chosen by ``strategy`` (ur | random | stratified | ur-stratified); ``engine``
    (a :class:`PosteriorUR`) replaces the descriptor leverage of ``X_pool`` for the UR ones."""
    if strategy == "ur":
        return select_ur(X_pool, train_mask, n, alpha, candidate_mask, engine)
    if strategy == "random":
        return select_random(train_mask, n, seed, candidate_mask)
    if strategy == "stratified":
        if valence is None:
            raise ForwardError("stratified selection needs the valence of every pool site")
        return select_stratified(valence, train_mask, n, seed, candidate_mask)
    if strategy == "ur-stratified":
        if valence is None:
            raise ForwardError("ur-stratified selection needs the valence of every pool site")
        return select_ur_stratified(X_pool, valence, train_mask, n, alpha, candidate_mask,
                                    engine=engine)
    raise ForwardError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")


def select_with_test_reserve(strategy: str, X_pool, train_mask, n: int, reserved,
                             alpha: float = 1.0, valence=None, seed: int = 0,
                             candidate_mask=None, test_fraction: float | None = None,
                             engine=None) -> list[int]:
    """``n`` rows for the next batch: ``round(test_fraction * n)`` test-reserved candidates drawn
    at random (seeded; they become the held-out test set), the rest by ``strategy`` among the
    non-reserved candidates, with the reserved sites kept out of the training set as well.

    ``reserved``: boolean mask (n_pool,) (:func:`amorphxas.dataset.testset.is_test_reserved`);
    ``train_mask``: pool rows with a spectrum. Returns the training picks, then the test picks.
    ``engine`` (:class:`PosteriorUR`): must come from a model fitted on ``train_mask & ~reserved``."""
    from amorphxas.dataset.testset import TEST_FRACTION

    reserved = np.asarray(reserved, dtype=bool)
    train_mask = np.asarray(train_mask, dtype=bool)
    if reserved.shape != train_mask.shape:
        raise ForwardError(f"reserved mask has {reserved.size} entries, pool has {train_mask.size}")
    allowed = np.ones_like(train_mask) if candidate_mask is None else np.asarray(candidate_mask, bool)
    fraction = TEST_FRACTION if test_fraction is None else float(test_fraction)
    test_free = np.flatnonzero(reserved & ~train_mask & allowed)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2023]))
    test = [int(i) for i in rng.permutation(test_free)[:int(round(fraction * n))]]
    picks = select_indices(strategy, X_pool, train_mask & ~reserved, n - len(test), alpha,
                           valence, seed, candidate_mask=allowed & ~reserved & ~train_mask,
                           engine=engine)
    return [int(i) for i in picks] + test


def write_sites(sites: list[dict], path) -> Path:
    """Write the JSON list that ``amorphxas compute DATASET --sites FILE`` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"cell_id": str(s["cell_id"]), "atom_index": int(s["atom_index"])}
                                for s in sites], indent=1))
    return path
