"""Valence fractions of a (measured-like) spectrum by linear-combination fitting (LCF).

A sample's spectrum is the sum of its absorbers' spectra, so a cell- or sample-averaged
spectrum is, to the extent that sites of one valence look alike, a mixture of the per-valence
mean spectra. :class:`ValenceFractions` learns those five components (the mean normalised DFT
spectrum of the Si0..Si4+ training sites, study 1 Fig. 2 / study 2 Fig. 2) and reads the
fractions of a new spectrum by non-negative least squares with the fractions summing to one:
the linear-combination fit XANES practitioners run in Athena, here with DFT components. The
mean valence follows as sum_n n f_n.

scipy's ``nnls`` does the fit; the sum-to-one constraint is the usual heavily weighted extra row
(no maintained library offers LCF on arbitrary components as an estimator).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from amorphxas.core.errors import AmorphxasError

SUM_WEIGHT = 100.0  # weight of the sum-to-one row against the spectrum's residual (edge step 1)


class ValenceFractions:
    """LCF of normalised spectra (n, n_points) on the per-valence mean training spectra."""

    def fit(self, X, valence) -> ValenceFractions:
        X = np.asarray(X, dtype=float)
        valence = np.asarray(valence)
        if X.ndim != 2 or valence.shape != (X.shape[0],):
            raise AmorphxasError(f"valence fractions: {X.shape} spectra for {valence.shape} valences")
        rounded = np.rint(valence)
        if not np.allclose(valence, rounded) or rounded.min() < 0 or rounded.max() > 4:
            raise AmorphxasError("valence fractions need integer valences 0-4 (O neighbours)")
        self.classes_ = np.unique(rounded).astype(int)
        self.components_ = np.stack([X[rounded == c].mean(axis=0) for c in self.classes_])
        return self

    def predict(self, X) -> np.ndarray:
        """Fractions (n, n_classes), non-negative, summing to one, in ``classes_`` order."""
        if not hasattr(self, "components_"):
            raise AmorphxasError("ValenceFractions is not fitted")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.components_.shape[1]:
            raise AmorphxasError(f"valence fractions: spectra of {X.shape[1]} points, components "
                                 f"of {self.components_.shape[1]}")
        design = np.vstack([self.components_.T, np.full(len(self.classes_), SUM_WEIGHT)])
        out = np.empty((X.shape[0], len(self.classes_)))
        for k, x in enumerate(X):
            out[k], _ = nnls(design, np.append(x, SUM_WEIGHT))
        return out / out.sum(axis=1, keepdims=True)

    def mean_valence(self, X) -> np.ndarray:
        """sum_n n f_n for each spectrum: (n,)."""
        return self.predict(X) @ self.classes_

    def arrays(self) -> dict[str, np.ndarray]:
        return {"components": self.components_, "classes": self.classes_}

    @classmethod
    def from_arrays(cls, arrays) -> ValenceFractions:
        self = cls()
        self.components_ = np.asarray(arrays["components"], dtype=float)
        self.classes_ = np.asarray(arrays["classes"], dtype=int)
        return self
