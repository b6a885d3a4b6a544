"""Calibrated intervals for the inverse ensembles, and their coverage.

A deep ensemble's spread says how much its members disagree, not how far they are from the truth:
on cells the training never saw it is too small by an order of magnitude. :class:`IntervalCalibration`
maps the ensemble std ``s`` to intervals fitted on a calibration set of held-out cells (cells used
neither for training nor for testing):

1. ``sigma = sqrt((a s)^2 + b^2)``: ``a`` (scale) and ``b`` (floor, target units) by Gaussian
   maximum likelihood of the calibration residuals;
2. split-conformal multipliers: ``k_p`` = the finite-sample ``p`` quantile of ``|residual| / sigma``,
   so that ``mean +- k_p sigma`` covers a fraction ``p`` of new cases drawn like the calibration set
   (``p`` = 0.68 and 0.95).

:func:`coverage` measures the fraction of true values inside stated intervals.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from amorphxas.core.errors import AmorphxasError

LEVELS = (0.68, 0.95)


def conformal_quantile(scores, level: float) -> float:
    """Split-conformal quantile: the ceil((n + 1) level)-th smallest score (inf if n too small)."""
    scores = np.sort(np.asarray(scores, dtype=float).ravel())
    n = scores.size
    k = int(np.ceil((n + 1) * level))
    return float(scores[k - 1]) if 1 <= k <= n else float("inf")


def coverage(y_true, lower, upper) -> float:
    """Fraction of ``y_true`` with ``lower <= y_true <= upper`` (arrays of one shape)."""
    y_true, lower, upper = (np.asarray(a, dtype=float) for a in (y_true, lower, upper))
    if not (y_true.shape == lower.shape == upper.shape) or y_true.size == 0:
        raise AmorphxasError(f"coverage: shapes {y_true.shape}, {lower.shape}, {upper.shape}")
    return float(np.mean((y_true >= lower) & (y_true <= upper)))


class IntervalCalibration:
    """Ensemble std -> calibrated half-widths of the 68 % and 95 % intervals (module docstring)."""

    def fit(self, y_true, mean, ens_std) -> IntervalCalibration:
        """Fit on calibration residuals: ``y_true``, ``mean``, ``ens_std`` of one shape (any)."""
        y_true, mean, s = (np.asarray(a, dtype=float).ravel() for a in (y_true, mean, ens_std))
        if not (y_true.shape == mean.shape == s.shape) or y_true.size < 5:
            raise AmorphxasError(f"interval calibration needs >= 5 residuals, got {y_true.size}")
        if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(mean)) and np.all(np.isfinite(s))):
            raise AmorphxasError("interval calibration: non-finite residuals or std")
        r2 = (y_true - mean) ** 2
        floor = max(1e-6, 1e-3 * float(np.sqrt(r2.mean())))

        def nll(theta):
            var = np.exp(2 * theta[0]) * s ** 2 + np.exp(2 * theta[1]) + floor ** 2
            return float(np.sum(np.log(var) + r2 / var))

        rms = float(np.sqrt(r2.mean())) + floor
        start = [np.log(max(rms / max(float(s.mean()), 1e-9), 1e-3)), np.log(rms / 2)]
        res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
        self.scale_, self.floor_ = float(np.exp(res.x[0])), float(np.sqrt(np.exp(2 * res.x[1]) + floor ** 2))
        z = np.abs(y_true - mean) / self.sigma(s)
        self.k_ = {level: conformal_quantile(z, level) for level in LEVELS}
        self.n_calibration_ = int(y_true.size)
        self.raw_coverage_ = {level: float(np.mean(np.abs(y_true - mean) <= s * _z(level)))
                              for level in LEVELS}
        return self

    def sigma(self, ens_std) -> np.ndarray:
        """sqrt((a s)^2 + b^2), same shape as ``ens_std``."""
        s = np.asarray(ens_std, dtype=float)
        return np.sqrt((self.scale_ * s) ** 2 + self.floor_ ** 2)

    def half_width(self, ens_std, level: float) -> np.ndarray:
        """Half-width of the calibrated ``level`` interval (target units), shape of ``ens_std``."""
        if level not in self.k_:
            raise AmorphxasError(f"interval level {level} not calibrated; choose one of {LEVELS}")
        return self.k_[level] * self.sigma(ens_std)

    def as_dict(self) -> dict:
        return {"scale": self.scale_, "floor": self.floor_,
                "k": {f"{level:.2f}": v for level, v in self.k_.items()},
                "n_calibration": self.n_calibration_,
                "raw_ensemble_coverage": {f"{level:.2f}": v for level, v in self.raw_coverage_.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> IntervalCalibration:
        self = cls()
        try:
            self.scale_, self.floor_ = float(d["scale"]), float(d["floor"])
            self.k_ = {float(level): float(v) for level, v in d["k"].items()}
            self.n_calibration_ = int(d["n_calibration"])
            self.raw_coverage_ = {float(level): float(v)
                                  for level, v in d.get("raw_ensemble_coverage", {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise AmorphxasError(f"interval calibration record is incomplete ({exc})") from None
        values = [self.scale_, self.floor_, *self.k_.values()]
        if not all(np.isfinite(values)) or set(self.k_) != set(LEVELS):
            raise AmorphxasError("interval calibration record holds non-finite values or levels")
        return self


def _z(level: float) -> float:
    """Two-sided Gaussian quantile (1.0 for 68 %, 1.96 for 95 %)."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))
