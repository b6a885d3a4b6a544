"""The white-line / edge heuristic baseline, always reported beside the networks.

Feature extractors work on an edge-step-normalised spectrum (post-edge mean 1, pre-edge 0;
:func:`amorphxas.inverse.preprocess.preprocess`):

- ``edge_position`` (eV): first upward crossing of half the edge step (0.5), linearly interpolated,
  taking the first crossing after which the spectrum stays >= 0.5 for ``hold`` eV (robust to a
  noise spike below the edge);
- ``white_line`` : maximum of the spectrum within ``span`` eV above the edge position;
- ``integrated_white_line`` (eV): trapezoid integral of the spectrum from the edge position to
  ``span`` eV above it.

Two baselines on these features (both plain arrays, saved with the model):

- :class:`LinearBaseline`: least-squares linear regression on the three features (study 2, Fig. S4);
- :class:`EdgeBaseline`: a monotone (isotonic) fit of the target on the edge position alone.
"""

from __future__ import annotations

import numpy as np

from amorphxas.core.errors import AmorphxasError

FEATURES = ("white_line", "integrated_white_line", "edge_position")


def edge_position(energy, spectrum, level: float = 0.5, hold: float = 1.0) -> float:
    """Energy (eV) of the first upward crossing of ``level`` that then holds for ``hold`` eV."""
    energy = np.asarray(energy, dtype=float)
    spectrum = np.asarray(spectrum, dtype=float)
    above = spectrum >= level
    step = float(np.median(np.diff(energy)))
    n_hold = max(1, int(round(hold / step)))
    for i in np.nonzero(above)[0]:
        if above[i:i + n_hold].all():
            if i == 0:
                return float(energy[0])
            e0, e1, y0, y1 = energy[i - 1], energy[i], spectrum[i - 1], spectrum[i]
            return float(e0 + (level - y0) * (e1 - e0) / (y1 - y0))
    raise AmorphxasError("heuristic features: the spectrum never reaches half the edge step")


def heuristic_features(energy, spectra, span: float = 10.0) -> np.ndarray:
    """(n, 3) features [white_line, integrated_white_line, edge_position] of normalised spectra."""
    energy = np.asarray(energy, dtype=float)
    spectra = np.atleast_2d(np.asarray(spectra, dtype=float))
    out = np.empty((spectra.shape[0], 3))
    for k, y in enumerate(spectra):
        e0 = edge_position(energy, y)
        e1 = min(e0 + span, energy[-1])
        inside = (energy > e0) & (energy < e1)
        xs = np.concatenate([[e0], energy[inside], [e1]])
        ys = np.interp(xs, energy, y)
        out[k] = (ys.max(), np.trapezoid(ys, xs), e0)
    return out


class LinearBaseline:
    """Linear regression of a scalar target on the three standardised heuristic features."""

    def fit(self, features: np.ndarray, y: np.ndarray) -> LinearBaseline:
        features = np.asarray(features, dtype=float)
        self.mean_ = features.mean(axis=0)
        self.scale_ = features.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        design = np.column_stack([np.ones(len(features)), (features - self.mean_) / self.scale_])
        self.coef_, *_ = np.linalg.lstsq(design, np.asarray(y, dtype=float), rcond=None)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        features = np.atleast_2d(np.asarray(features, dtype=float))
        return self.coef_[0] + ((features - self.mean_) / self.scale_) @ self.coef_[1:]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "scale": self.scale_, "coef": self.coef_}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LinearBaseline:
        self = cls()
        self.mean_, self.scale_, self.coef_ = arrays["mean"], arrays["scale"], arrays["coef"]
        return self


class EdgeBaseline:
    """Monotone (isotonic, direction chosen by the data) fit of a scalar target on edge position."""

    def fit(self, features: np.ndarray, y: np.ndarray) -> EdgeBaseline:
        from sklearn.isotonic import IsotonicRegression

        x = np.asarray(features, dtype=float)[:, 2]
        iso = IsotonicRegression(increasing="auto", out_of_bounds="clip").fit(x, np.asarray(y, float))
        self.x_ = np.asarray(iso.X_thresholds_, dtype=float)
        self.y_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(features, dtype=float))[:, 2]
        if self.x_.size == 1:
            return np.full(x.shape, self.y_[0])
        return np.interp(x, self.x_, self.y_)  # clipped outside, like out_of_bounds="clip"

    def arrays(self) -> dict[str, np.ndarray]:
        return {"x": self.x_, "y": self.y_}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> EdgeBaseline:
        self = cls()
        self.x_, self.y_ = arrays["x"], arrays["y"]
        return self
