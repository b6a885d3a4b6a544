"""Out-of-domain check for a spectrum given to the measured-spectrum models.

Three scores of a normalised spectrum ``x`` (256 points on ``COMMON_GRID``, edge step 1):

- ``reconstruction``: RMS residual (edge steps) of ``x`` after projection on the principal
  components (scikit-learn PCA, 99.9 % of the variance) of the training spectra;
- ``distance``: RMS distance (edge steps) in that PCA space to the nearest training spectrum;
- ``edge_eV``: the half-step edge position (:func:`amorphxas.inverse.baseline.edge_position`),
  which must exist and lie within the training spectra's range +- ``EDGE_MARGIN_EV``.

Thresholds are ``factor`` x the ``quantile`` of the scores of the calibration spectra (held-out
cells, perturbed like a measurement), so ~0.5 % of genuine measured-like spectra are flagged.
Everything is plain arrays (NPZ) and numbers (JSON).
"""

from __future__ import annotations

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.inverse.baseline import edge_position

EDGE_MARGIN_EV = 2.0
MAX_STORED = 3000  # training spectra kept (PCA scores) for the distance


class DomainCheck:
    """PCA reconstruction + nearest-neighbour distance + edge position (module docstring)."""

    def fit(self, X_train, X_calib, variance: float = 0.999, quantile: float = 0.995,
            factor: float = 1.5, seed: int = 0) -> DomainCheck:
        """``X_train`` (n, 256) training spectra, ``X_calib`` (m, 256) calibration spectra."""
        from sklearn.decomposition import PCA

        X_train, X_calib = np.atleast_2d(X_train), np.atleast_2d(X_calib)
        pca = PCA(n_components=variance, svd_solver="full").fit(X_train)
        self.mean_, self.components_ = pca.mean_.copy(), pca.components_.copy()
        keep = np.random.default_rng(seed).permutation(len(X_train))[:MAX_STORED]
        self.train_scores_ = self._scores(X_train[keep])
        edges = np.array([_edge(x) for x in X_train[keep]])
        edges = edges[np.isfinite(edges)]
        self.edge_range_ = (float(edges.min()) - EDGE_MARGIN_EV, float(edges.max()) + EDGE_MARGIN_EV)
        scores = self.score(X_calib)
        self.thresholds_ = {k: factor * float(np.quantile(scores[k], quantile))
                            for k in ("reconstruction", "distance")}
        return self

    def _scores(self, X):
        return (np.atleast_2d(X) - self.mean_) @ self.components_.T

    def score(self, X) -> dict[str, np.ndarray]:
        """{'reconstruction': (n,), 'distance': (n,), 'edge_eV': (n,) (NaN: no edge)}."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        z = self._scores(X)
        recon = np.sqrt(np.mean((X - self.mean_ - z @ self.components_) ** 2, axis=1))
        d2 = ((z ** 2).sum(1)[:, None] + (self.train_scores_ ** 2).sum(1)[None, :]
              - 2 * z @ self.train_scores_.T)
        dist = np.sqrt(np.maximum(d2.min(axis=1), 0.0) / X.shape[1])
        return {"reconstruction": recon, "distance": dist,
                "edge_eV": np.array([_edge(x) for x in X])}

    def check(self, x) -> tuple[bool, list[str], dict]:
        """(in_domain, reasons (list of one-line strings), scores {name: float}) for one spectrum."""
        s = {k: float(v[0]) for k, v in self.score(x).items()}
        reasons = []
        if not np.isfinite(s["edge_eV"]):
            reasons.append("no edge: the normalised spectrum never rises to half the edge step")
        elif not self.edge_range_[0] <= s["edge_eV"] <= self.edge_range_[1]:
            reasons.append(f"edge at {s['edge_eV']:.2f} eV, outside the training range "
                           f"{self.edge_range_[0]:.2f}-{self.edge_range_[1]:.2f} eV")
        for key, what in (("reconstruction", "reconstruction error"),
                          ("distance", "distance to the nearest training spectrum")):
            if s[key] > self.thresholds_[key]:
                reasons.append(f"{what} {s[key]:.3f} edge steps > {self.thresholds_[key]:.3f} "
                               "(far from every training spectrum)")
        return not reasons, reasons, s

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "components": self.components_,
                "train_scores": self.train_scores_, "edge_range": np.array(self.edge_range_),
                "thresholds": np.array([self.thresholds_["reconstruction"],
                                        self.thresholds_["distance"]])}

    @classmethod
    def from_arrays(cls, a) -> DomainCheck:
        self = cls()
        try:
            self.mean_, self.components_ = np.asarray(a["mean"], float), np.asarray(a["components"], float)
            self.train_scores_ = np.asarray(a["train_scores"], float)
            self.edge_range_ = tuple(float(v) for v in a["edge_range"])
            t = np.asarray(a["thresholds"], float)
        except KeyError as exc:
            raise AmorphxasError(f"domain check: missing array {exc}") from None
        if self.mean_.shape != (COMMON_GRID.size,) or self.components_.shape[1] != COMMON_GRID.size:
            raise AmorphxasError("domain check: arrays do not match the model energy grid")
        self.thresholds_ = {"reconstruction": float(t[0]), "distance": float(t[1])}
        return self


def _edge(x) -> float:
    try:
        return edge_position(COMMON_GRID, x)
    except AmorphxasError:
        return float("nan")
