"""Spectrum regression on compact inputs (tens of features per site) with calibrated uncertainty.

:class:`CompactSpectrum` is a scikit-learn estimator (``fit(X, Y, groups=None)``,
``predict(X, return_std=False)``, hyper-parameters in ``__init__``). Input rows are
``[features..., valence]``: the last column is the Si valence (number of O neighbours, 0..4;
larger values are treated as 4). Steps:

1. standardise the features (mean / std of the training rows);
2. ``residual=True``: subtract the training mean spectrum of the site's valence (the baseline
   every forward model is compared with) and learn the residual, with the one-hot valence as five
   extra inputs (so a valence mean biased by the sample's features can be corrected);
3. ``target='pca'``: regress the scores of a PCA of the (residual) spectra (``n_components``),
   ``'direct'``: every energy point;
4. ``method``: ``ridge`` (linear, alpha by CV), ``krr`` (kernel ridge, RBF kernel, alpha and
   length scale by CV) or ``gp`` (the same kernel model with the hyper-parameters of a
   scikit-learn ``GaussianProcessRegressor`` fitted by marginal likelihood).

CV folds are by ``groups`` (cells) when given, so hyper-parameters are chosen for new cells.

Predictive std (same units as Y):
``sigma(x, E) = c * sqrt(s2_v(E) * (1 + h(x)))`` with ``h`` the posterior variance term in units
of the noise (ridge: ``x^T (Z^T Z + alpha I)^-1 x``; kernel: ``(k(x,x) - k^T (K + alpha I)^-1 k) /
alpha``), ``s2_v(E)`` the out-of-fold squared error of valence ``v`` at E divided by ``1 + h``
(the cross-validation by cell above), and ``c`` the scalar that brings the out-of-fold 1-sigma
and 2-sigma coverage closest to 0.683 / 0.954 (recalibration on held-out cells).

Everything predict needs is a numpy array (:meth:`to_arrays` / :meth:`from_arrays`), so a model
saved as NPZ + JSON reloads and predicts bit-identically.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_is_fitted

from amorphxas.core.persistence import ArrayState
from amorphxas.core.validation import check_matrix
from amorphxas.forward.ridge import ForwardError, check_xy

METHODS = ("ridge", "krr", "gp")
TARGETS = ("direct", "pca")
N_VALENCE = 5
ALPHAS = tuple(float(a) for a in np.logspace(-3, 4, 15))  # ridge
KERNEL_ALPHAS = (1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)  # krr (kernel values are in [0, 1])
LENGTH_SCALES = (0.5, 1.0, 2.0)  # in units of sqrt(n_features) (standardised inputs)


def nominal_coverage_scale(z: np.ndarray) -> float:
    """The scale c (0.5..3.0) of a predictive std that brings the fraction of the standardised
    errors ``z`` = |error| / std within c and 2c closest to 0.683 / 0.954 (1- and 2-sigma)."""
    scales = np.linspace(0.5, 3.0, 126)
    cost = [abs(np.mean(z <= c) - 0.683) + abs(np.mean(z <= 2 * c) - 0.954) for c in scales]
    return float(scales[int(np.argmin(cost))])


def _sqdist(A, B) -> np.ndarray:
    d = np.sum(A**2, 1)[:, None] + np.sum(B**2, 1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


class _Core:
    """One fit of the regression on standardised inputs Z and targets T (no CV, no noise)."""

    def __init__(self, method, alpha, gamma):
        self.method, self.alpha, self.gamma = method, float(alpha), float(gamma)

    def fit(self, Z, T, w=None):
        """``w``: sample weights (noise variance of row i = s2 / w_i); None = 1."""
        w = np.ones(Z.shape[0]) if w is None else np.asarray(w, float)
        self.t_mean = w @ T / w.sum()
        Tc = T - self.t_mean
        if self.method == "ridge":
            self.z_mean = w @ Z / w.sum()
            Zc = Z - self.z_mean
            M = (Zc * w[:, None]).T @ Zc + self.alpha * np.eye(Z.shape[1])
            self.m_inv = np.linalg.inv(M)
            self.m_inv = 0.5 * (self.m_inv + self.m_inv.T)
            self.coef = self.m_inv @ ((Zc * w[:, None]).T @ Tc)
        else:
            self.z_train = Z
            K = np.exp(-self.gamma * _sqdist(Z, Z))
            self.k_inv = np.linalg.inv(K + self.alpha * np.diag(1.0 / w))
            self.k_inv = 0.5 * (self.k_inv + self.k_inv.T)
            self.dual = self.k_inv @ Tc
        return self

    def predict(self, Z):
        """(targets, h) for rows of Z."""
        if self.method == "ridge":
            Zc = Z - self.z_mean
            return Zc @ self.coef + self.t_mean, np.sum((Zc @ self.m_inv) * Zc, axis=1)
        Ks = np.exp(-self.gamma * _sqdist(Z, self.z_train))
        h = (1.0 - np.sum((Ks @ self.k_inv) * Ks, axis=1)) / self.alpha
        return Ks @ self.dual + self.t_mean, np.maximum(h, 0.0)


class CompactSpectrum(ArrayState, RegressorMixin, BaseEstimator):
    """Spectra from compact site features + valence; see the module docstring.

    Parameters
    ----------
    method : 'ridge' | 'krr' | 'gp'
    residual : bool - learn the difference from the valence-mean spectrum
    target : 'direct' | 'pca'
    n_components : int - spectral PCA components (target='pca')
    alpha : float or None - regularisation (None: by CV from ``alphas``)
    alphas : CV grid of alpha (None: ALPHAS for ridge, KERNEL_ALPHAS for krr)
    length_scales : CV grid of the RBF length scale (krr), in units of sqrt(n_features)
    cv : int - folds (by group when ``groups`` is given to fit)
    calibrate : bool - estimate s2_v(E) and the scale c from out-of-fold errors
    random_state : int - seed of the folds when no groups are given
    """

    def __init__(self, method: str = "ridge", residual: bool = True, target: str = "direct",
                 n_components: int = 12, alpha: float | None = None, alphas=None,
                 length_scales=LENGTH_SCALES, cv: int = 5, calibrate: bool = True,
                 random_state: int = 0):
        self.method = method
        self.residual = residual
        self.target = target
        self.n_components = n_components
        self.alpha = alpha
        self.alphas = alphas
        self.length_scales = length_scales
        self.cv = cv
        self.calibrate = calibrate
        self.random_state = random_state

    # -- pieces --------------------------------------------------------------------------------
    @staticmethod
    def _split_valence(X) -> tuple[np.ndarray, np.ndarray]:
        v = np.clip(np.rint(X[:, -1]).astype(int), 0, N_VALENCE - 1)
        return X[:, :-1], v

    def _baseline(self, v) -> np.ndarray:
        return self.vmean_[v] if self.residual else np.zeros((v.size, self.vmean_.shape[1]))

    def _folds(self, n, groups):
        if groups is not None and np.unique(groups).size >= 2:
            k = min(self.cv, np.unique(groups).size)
            return list(GroupKFold(n_splits=k).split(np.zeros(n), groups=groups))
        k = max(2, min(self.cv, n))
        return list(KFold(k, shuffle=True, random_state=self.random_state).split(np.zeros(n)))

    @staticmethod
    def _valence_means(Y, v) -> np.ndarray:
        overall = Y.mean(axis=0)
        return np.stack([Y[v == k].mean(axis=0) if np.any(v == k) else overall
                         for k in range(N_VALENCE)])

    def _encode(self, R):
        """(targets, basis (m, E), basis mean (E,)) of residual spectra R."""
        if self.target == "direct":
            return R, np.zeros((0, R.shape[1])), np.zeros(R.shape[1])
        mu = R.mean(axis=0)
        _, _, Vt = np.linalg.svd(R - mu, full_matrices=False)
        G = Vt[:min(int(self.n_components), Vt.shape[0])]
        return (R - mu) @ G.T, G, mu

    @staticmethod
    def _decode(T, G, mu):
        return T if G.shape[0] == 0 else T @ G + mu

    def _fit_fold(self, Z, Y, v, alpha, gamma, w=None):
        vmean = self._valence_means(Y, v)
        R = Y - vmean[v] if self.residual else Y
        T, G, mu = self._encode(R)
        return _Core(self.method, alpha, gamma).fit(Z, T, w), G, mu, vmean

    def _oof(self, Z, Y, v, folds, alpha, gamma, w=None):
        """Out-of-fold predictions and h for every row."""
        P, H = np.empty_like(Y), np.empty(Y.shape[0])
        for tr, te in folds:
            core, G, mu, vmean = self._fit_fold(Z[tr], Y[tr], v[tr], alpha, gamma,
                                                None if w is None else w[tr])
            T, h = core.predict(Z[te])
            P[te] = self._decode(T, G, mu) + (vmean[v[te]] if self.residual else 0.0)
            H[te] = h
        return P, H

    def _gp_hyper(self, Z, T) -> tuple[float, float]:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        d = Z.shape[1]
        kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.sqrt(d), (1e-2, 1e3))
                  + WhiteKernel(1e-1, (1e-5, 1e2)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0,
                                          random_state=self.random_state).fit(Z, T)
        k = gp.kernel_
        amp, ls, noise = k.k1.k1.constant_value, k.k1.k2.length_scale, k.k2.noise_level
        return float(noise / amp), float(1.0 / (2.0 * ls**2))

    # -- scikit-learn API ----------------------------------------------------------------------
    def fit(self, X, Y, groups=None, sample_weight=None):
        """X (n, n_features + 1) with the valence last; Y (n, n_energy); groups (n,) e.g. cell ids;
        ``sample_weight`` (n,): relative precision of each label (noise variance s2 / w), e.g.
        < 1 for cheaper, noisier spectra. CV errors and the noise estimate are weighted too."""
        if self.method not in METHODS:
            raise ForwardError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.target not in TARGETS:
            raise ForwardError(f"unknown target {self.target!r}: use one of {', '.join(TARGETS)}")
        X, Y = check_xy(X, Y)
        if X.shape[1] < 2:
            raise ForwardError("X needs at least one feature column before the valence column")
        if X.shape[0] < 4:
            raise ForwardError(f"need at least 4 training sites, got {X.shape[0]}")
        groups = None if groups is None else np.asarray(groups).astype(str)
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, float).reshape(-1)
            if w.shape != (X.shape[0],) or not np.all(np.isfinite(w)) or np.any(w <= 0):
                raise ForwardError(f"sample_weight: need {X.shape[0]} positive finite values")
        F, v = self._split_valence(X)
        self.f_mean_ = F.mean(axis=0)
        self.f_scale_ = np.where(F.std(axis=0) > 1e-12, F.std(axis=0), 1.0)
        Z = self._design(F, v)
        d = Z.shape[1]
        folds = self._folds(X.shape[0], groups)
        if self.method == "gp":
            vm = self._valence_means(Y, v)
            T, _, _ = self._encode(Y - vm[v] if self.residual else Y)
            grid = [self._gp_hyper(Z, T)] if self.alpha is None else [(float(self.alpha), 1.0 / (2 * d))]
        else:
            default = ALPHAS if self.method == "ridge" else KERNEL_ALPHAS
            grid_a = default if self.alphas is None else self.alphas
            alphas = grid_a if self.alpha is None else (self.alpha,)
            gammas = [0.0] if self.method == "ridge" else [1.0 / (2.0 * (s * np.sqrt(d)) ** 2)
                                                           for s in self.length_scales]
            grid = [(float(a), float(g)) for a in alphas for g in gammas]
        best, self.cv_mse_ = None, {}
        for a, g in grid:
            P, H = self._oof(Z, Y, v, folds, a, g, w) if len(grid) > 1 or self.calibrate else (None, None)
            ww = np.ones(Y.shape[0]) if w is None else w
            mse = float(np.mean(ww[:, None] * (P - Y) ** 2) / ww.mean()) if P is not None else 0.0
            self.cv_mse_[f"{a:.4g},{g:.4g}"] = mse
            if best is None or mse < best[0]:
                best = (mse, a, g, P, H)
        _, self.alpha_, self.gamma_, P, H = best
        core, G, mu, self.vmean_ = self._fit_fold(Z, Y, v, self.alpha_, self.gamma_, w)
        self.basis_, self.basis_mean_ = G, mu
        self.t_mean_ = core.t_mean
        if self.method == "ridge":
            self.z_mean_, self.m_inv_, self.coef_ = core.z_mean, core.m_inv, core.coef
            self.z_train_ = np.zeros((0, d))
            self.k_inv_ = np.zeros((0, 0))
        else:
            self.z_train_, self.k_inv_, self.coef_ = core.z_train, core.k_inv, core.dual
            self.z_mean_, self.m_inv_ = np.zeros(d), np.zeros((0, 0))
        self._calibrate(Y, v, P, H, w)
        # out-of-fold (spectra, calibrated std) of the training rows, for an ensemble's
        # recalibration (amorphxas.forward.ensemble); not saved
        self.oof_ = None if P is None else (P, self.calib_scale_ * self._noise_std(v, H))
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        self.n_train_ = X.shape[0]
        return self

    def _calibrate(self, Y, v, P, H, w=None):
        """Noise and scale from out-of-fold errors; weighted rows count as sites with noise s2/w
        (so their scaled errors e2 * w estimate s2)."""
        E = Y.shape[1]
        if P is None:
            self.noise_var_ = np.full((N_VALENCE, E), np.nan)
            self.calib_scale_ = 1.0
            return
        e2 = (P - Y) ** 2 / (1.0 + H)[:, None]
        if w is not None:
            e2 = e2 * w[:, None]
        pooled = e2.mean(axis=0)
        noise = np.empty((N_VALENCE, E))
        for k in range(N_VALENCE):
            rows = v == k
            n = int(rows.sum())
            # shrunk towards the pooled variance with the weight of one pseudo-site
            noise[k] = (e2[rows].sum(axis=0) + pooled) / (n + 1.0)
        self.noise_var_ = np.maximum(noise, 1e-12 * max(float(pooled.max()), 1e-300))
        z = np.abs(P - Y) / self._noise_std(v, H)
        if w is not None:
            z = z * np.sqrt(w)[:, None]
        self.calib_scale_ = nominal_coverage_scale(z)

    def _noise_std(self, v, h) -> np.ndarray:
        """(n, n_energy) uncalibrated predictive std of rows of valence ``v`` and leverage ``h``."""
        return np.sqrt(self.noise_var_[v] * (1.0 + h)[:, None])

    def _transform(self, X):
        check_is_fitted(self, "coef_")
        X = check_matrix(X, "X", n_columns=self.n_features_in_,
                         hint=" (features, then the valence)", error=ForwardError)
        F, v = self._split_valence(X)
        return self._design(F, v), v

    def _design(self, F, v) -> np.ndarray:
        Z = (F - self.f_mean_) / self.f_scale_
        return np.column_stack([Z, np.eye(N_VALENCE)[v]]) if self.residual else Z

    def _targets(self, Z):
        """(targets, h) of rows of Z: the stored fit as a :class:`_Core`."""
        core = _Core(self.method, self.alpha_, self.gamma_)
        core.t_mean = self.t_mean_
        if self.method == "ridge":
            core.z_mean, core.m_inv, core.coef = self.z_mean_, self.m_inv_, self.coef_
        else:
            core.z_train, core.k_inv, core.dual = self.z_train_, self.k_inv_, self.coef_
        return core.predict(Z)

    def predict(self, X, return_std: bool = False):
        """Spectra (n, n_energy) [and the calibrated predictive std (n, n_energy)]."""
        Z, v = self._transform(X)
        T, h = self._targets(Z)
        Y = self._decode(T, self.basis_, self.basis_mean_) + self._baseline(v)
        if not return_std:
            return Y
        return Y, self.calib_scale_ * self._noise_std(v, h)

    def leverage(self, X) -> np.ndarray:
        """h(x) per row (the x-dependent posterior variance in units of the noise)."""
        Z, _ = self._transform(X)
        return self._targets(Z)[1]

    # -- label-free posterior (active learning, amorphxas.forward.active) -----------------------
    def posterior_covariance(self, X_a, X_b=None, X_extra=None) -> np.ndarray:
        """Posterior covariance of the latent targets between rows of ``X_a`` (n_a, d+1) and
        ``X_b`` (n_b, d+1; default ``X_a``), in units of the fit's noise (so its diagonal is
        :meth:`leverage`), conditioned on the training rows and, if given, on ``X_extra`` as if
        they were labelled with unit weight (a kernel / Gaussian posterior needs no label).

        Ridge: ``a^T M^-1 b`` (centred design rows); kernel: ``(k(a,b) - k_a^T (K + alpha W^-1)^-1
        k_b) / alpha``. Adding a row c: ``C(a,b) - C(a,c) C(c,b) / (1 + C(c,c))``. Shape (n_a, n_b).
        """
        Za, _ = self._transform(X_a)
        Zb = Za if X_b is None else self._transform(X_b)[0]
        C = self._prior_posterior(Za, Zb)
        if X_extra is None or len(X_extra) == 0:
            return C
        Ze, _ = self._transform(X_extra)
        Cae, Ceb = self._prior_posterior(Za, Ze), self._prior_posterior(Ze, Zb)
        Cee = self._prior_posterior(Ze, Ze)
        return C - Cae @ np.linalg.solve(Cee + np.eye(Ze.shape[0]), Ceb)

    def posterior_variance(self, X_pool, X_extra=None) -> np.ndarray:
        """h(x) of rows of ``X_pool`` (n,) after also conditioning on ``X_extra`` (label-free);
        with ``X_extra=None`` equal to :meth:`leverage`."""
        if X_extra is None or len(X_extra) == 0:
            return self.leverage(X_pool)
        Zp, _ = self._transform(X_pool)
        Ze, _ = self._transform(X_extra)
        Cpe, Cee = self._prior_posterior(Zp, Ze), self._prior_posterior(Ze, Ze)
        h = self._targets(Zp)[1] - np.sum(Cpe * np.linalg.solve(Cee + np.eye(Ze.shape[0]), Cpe.T).T,
                                          axis=1)
        return np.maximum(h, 0.0)

    def noise_per_site(self, X) -> np.ndarray:
        """``c^2 sum_E s2_v(E)`` of each row's valence (n,): predictive variance summed over the
        energies is this times ``1 + h(x)`` (spectrum units squared)."""
        check_is_fitted(self, "coef_")
        _, v = self._split_valence(check_matrix(X, "X", n_columns=self.n_features_in_,
                                                error=ForwardError))
        return self.calib_scale_**2 * np.sum(self.noise_var_, axis=1)[v]

    def _prior_posterior(self, Za, Zb) -> np.ndarray:
        """Posterior covariance (noise units) between design rows Za and Zb, training only."""
        if self.method == "ridge":
            return (Za - self.z_mean_) @ self.m_inv_ @ (Zb - self.z_mean_).T
        Ka = np.exp(-self.gamma_ * _sqdist(Za, self.z_train_))
        Kb = np.exp(-self.gamma_ * _sqdist(Zb, self.z_train_))
        return (np.exp(-self.gamma_ * _sqdist(Za, Zb)) - Ka @ self.k_inv_ @ Kb.T) / self.alpha_

    # -- arrays for NPZ (amorphxas.core.persistence.ArrayState) --------------------------------
    _ARRAYS = ("f_mean_", "f_scale_", "vmean_", "basis_", "basis_mean_", "t_mean_", "z_mean_",
               "m_inv_", "coef_", "z_train_", "k_inv_", "noise_var_")
    _SCALARS = ("alpha_", "gamma_", "calib_scale_", "n_features_in_", "n_outputs_", "n_train_")
    _TUPLE_PARAMS = ("alphas", "length_scales")
