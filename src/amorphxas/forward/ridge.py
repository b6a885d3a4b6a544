"""Ridge regression of whole spectra (study 1, Eqs. 1-7) with a closed-form predictive variance.

:class:`RidgeSpectrum` is a scikit-learn estimator (``fit(X, Y)``, ``predict(X)``,
hyper-parameters in ``__init__``, ``check_is_fitted``) in three modes:

* ``direct``: one ridge per energy point (Eqs. 1-4), ``Y ~ X W + b``;
* ``pca``: regress the scores of a spectral PCA (scikit-learn ``PCA``; ``n_components`` a
  variance fraction, default 0.999 as in the study, or an int) and decode (Eqs. 5-7);
* ``nmf``: regress the coefficients of a non-negative basis (scikit-learn ``NMF``; default 9
  components as in the study) and decode.

The ridge itself is scikit-learn's ``Ridge`` (with intercept, same ``alpha`` for every target).
``alpha=None`` chooses it by K-fold cross-validation on the *decoded* spectra (mean squared error
over all energies), from the grid ``alphas``.

Predictive uncertainty (``predict(X, return_std=True)``): the closed-form posterior of the
Bayesian linear model that ridge is the MAP of (Gaussian prior on the weights with precision
``alpha / s2``, Gaussian noise of variance ``s2(E)`` per energy point, flat prior on the
intercept). With centred training inputs ``Xc`` and ``M = Xc^T Xc + alpha I``:

    var(x, E) = s2(E) * (1 + 1/n + (x - xbar)^T M^-1 (x - xbar))

``s2(E)`` is the residual variance of the decoded training fit at E divided by the residual
degrees of freedom ``n - 1 - trace(Xc M^-1 Xc^T)`` (at least 1). The "1 +" is the noise of a new
DFT spectrum; :meth:`RidgeSpectrum.leverage` returns the x-dependent part
``(x - xbar)^T M^-1 (x - xbar)`` that active learning (uncertainty reduction) minimises. It is
the same for every energy point and every mode, because all targets share one ``M``.

Prediction is plain numpy on stored arrays (``coef_``, ``intercept_``, ``basis_``,
``basis_mean_``), so a model saved as NPZ and loaded again predicts bit-identically.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.decomposition import NMF, PCA
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.persistence import ArrayState
from amorphxas.core.validation import check_matrix, check_same_rows

MODES = ("direct", "pca", "nmf")
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-6, 4, 21))


class ForwardError(AmorphxasError, ValueError):
    """Bad input to a forward model (one line; also a ValueError, as scikit-learn expects)."""


def check_xy(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors X (n, d) and spectra Y (n, n_energy): finite float64, one row per site in both."""
    X = check_matrix(X, "descriptors X", error=ForwardError)
    Y = check_matrix(Y, "spectra Y", error=ForwardError)
    check_same_rows(X, Y, "descriptors X", "spectra Y", error=ForwardError)
    return X, Y


class RidgeSpectrum(ArrayState, RegressorMixin, BaseEstimator):
    """Spectrum = ridge(descriptor), directly or through a PCA/NMF spectral basis.

    Parameters
    ----------
    mode : 'direct' | 'pca' | 'nmf'
    alpha : float or None
        Ridge regularisation (study 1's lambda). None: chosen by ``cv``-fold cross-validation
        from ``alphas``.
    alphas : sequence of float
        Grid for the cross-validation.
    n_components : int, float or None
        PCA: int, or a variance fraction in (0, 1) (None = 0.999). NMF: int (None = 9).
    cv : int
        Folds of the cross-validation (needs at least ``cv`` samples).
    nmf_max_iter : int
        Iterations of the NMF solver.
    random_state : int
        Seed of the CV shuffling and of the NMF initialisation.
    """

    def __init__(self, mode: str = "direct", alpha: float | None = None,
                 alphas=DEFAULT_ALPHAS, n_components=None, cv: int = 5,
                 nmf_max_iter: int = 2000, random_state: int = 0):
        self.mode = mode
        self.alpha = alpha
        self.alphas = alphas
        self.n_components = n_components
        self.cv = cv
        self.nmf_max_iter = nmf_max_iter
        self.random_state = random_state

    # -- spectral compression ------------------------------------------------------------------
    def _compressor(self, n_samples: int, n_energy: int):
        if self.mode == "pca":
            k = 0.999 if self.n_components is None else self.n_components
            if isinstance(k, (int, np.integer)):
                k = int(min(k, n_samples, n_energy))
            return PCA(n_components=k, svd_solver="full")
        if self.mode == "nmf":
            k = 9 if self.n_components is None else int(self.n_components)
            return NMF(n_components=int(min(k, n_samples, n_energy)), init="nndsvda",
                       max_iter=self.nmf_max_iter, tol=1e-6, random_state=self.random_state)
        return None

    def _encode_fit(self, Y):
        """(targets T, basis G (m x E) or None, basis mean (E,))."""
        comp = self._compressor(*Y.shape)
        if comp is None:
            return Y, None, np.zeros(Y.shape[1])
        if self.mode == "nmf":
            if Y.min() < -1e-6 * max(1.0, float(np.abs(Y).max())):
                raise ForwardError(f"NMF mode needs non-negative spectra (min {Y.min():.3g})")
            Y = np.clip(Y, 0.0, None)
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                T = comp.fit_transform(Y)
            return T, np.asarray(comp.components_, dtype=np.float64), np.zeros(Y.shape[1])
        T = comp.fit_transform(Y)
        return T, np.asarray(comp.components_, dtype=np.float64), np.asarray(comp.mean_, dtype=np.float64)

    @staticmethod
    def _decode(T, G, mu):
        return T if G is None else T @ G + mu

    def _fit_once(self, X, Y, alpha):
        T, G, mu = self._encode_fit(Y)
        ridge = Ridge(alpha=float(alpha), fit_intercept=True, solver="auto")
        ridge.fit(X, T)
        coef = np.atleast_2d(np.asarray(ridge.coef_, dtype=np.float64))
        intercept = np.atleast_1d(np.asarray(ridge.intercept_, dtype=np.float64))
        return coef, intercept, G, mu

    def _cv_alpha(self, X, Y):
        n = X.shape[0]
        if n < self.cv or self.cv < 2:
            raise ForwardError(f"cannot choose alpha by {self.cv}-fold cross-validation with "
                               f"{n} samples: need at least {max(self.cv, 2)} (or give alpha)")
        alphas = np.asarray(self.alphas, dtype=float)
        if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas <= 0):
            raise ForwardError("alphas must be a non-empty list of positive numbers")
        errors = np.zeros(alphas.size)
        folds = KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(X):
            T, G, mu = self._encode_fit(Y[train])
            for k, a in enumerate(alphas):
                ridge = Ridge(alpha=float(a), fit_intercept=True).fit(X[train], T)
                pred = self._decode(ridge.predict(X[test]).reshape(len(test), -1), G, mu)
                errors[k] += float(np.sum((pred - Y[test]) ** 2))
        self.cv_mse_ = errors / (n * Y.shape[1])
        return float(alphas[int(np.argmin(errors))])

    # -- scikit-learn API ----------------------------------------------------------------------
    def fit(self, X, Y):
        if self.mode not in MODES:
            raise ForwardError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        X, Y = check_xy(X, Y)
        if X.shape[0] < 2:
            raise ForwardError(f"need at least 2 training sites, got {X.shape[0]}")
        alpha = self._cv_alpha(X, Y) if self.alpha is None else float(self.alpha)
        if not alpha > 0:
            raise ForwardError(f"alpha must be positive, got {alpha}")
        self.alpha_ = alpha
        self.coef_, self.intercept_, self.basis_, self.basis_mean_ = self._fit_once(X, Y, alpha)
        if self.basis_ is None:
            self.basis_ = np.zeros((0, Y.shape[1]))  # direct mode: no basis (stored as empty)
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        n = X.shape[0]
        self.x_mean_ = X.mean(axis=0)
        Xc = X - self.x_mean_
        M = Xc.T @ Xc + alpha * np.eye(X.shape[1])
        self.m_inv_ = np.linalg.inv(M)
        self.m_inv_ = 0.5 * (self.m_inv_ + self.m_inv_.T)
        dof = float(np.sum((Xc @ self.m_inv_) * Xc))
        self.dof_ = dof
        resid = Y - self.predict(X)
        self.noise_var_ = np.sum(resid**2, axis=0) / max(n - 1.0 - dof, 1.0)
        self.n_train_ = n
        self.train_leverage_max_ = float(np.max(self.leverage(X)))
        return self

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return check_matrix(X, "descriptors X", n_columns=self.n_features_in_,
                            hint=" (as in training)", error=ForwardError)

    def predict_targets(self, X) -> np.ndarray:
        """Regressed quantities: intensities (direct) or basis coefficients (pca/nmf)."""
        X = self._check_X(X)
        return X @ self.coef_.T + self.intercept_

    def leverage(self, X) -> np.ndarray:
        """(x - xbar)^T M^-1 (x - xbar) per row: the x-dependent part of the posterior variance."""
        X = self._check_X(X)
        Xc = X - self.x_mean_
        return np.sum((Xc @ self.m_inv_) * Xc, axis=1)

    def predict(self, X, return_std: bool = False):
        """Spectra (n, n_energy); with ``return_std`` also the predictive std (n, n_energy)."""
        T = self.predict_targets(X)
        G = self.basis_ if self.basis_.shape[0] else None
        Y = self._decode(T, G, self.basis_mean_)
        if not return_std:
            return Y
        h = 1.0 + 1.0 / self.n_train_ + self.leverage(X)
        return Y, np.sqrt(h[:, None] * self.noise_var_[None, :])

    # -- arrays for NPZ (amorphxas.core.persistence.ArrayState) --------------------------------
    _ARRAYS = ("coef_", "intercept_", "basis_", "basis_mean_", "x_mean_", "m_inv_", "noise_var_")
    _SCALARS = ("alpha_", "n_features_in_", "n_outputs_", "n_train_", "dof_", "train_leverage_max_")
    _TUPLE_PARAMS = ("alphas",)
