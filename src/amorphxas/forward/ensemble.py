"""An average of compact spectrum models, each on its own block of the input columns.

:class:`EnsembleSpectrum` is a scikit-learn estimator (``fit(X, Y, groups=None,
sample_weight=None)``, ``predict(X, return_std=False)``, parameters in ``__init__``). Input rows
are ``[features..., valence]`` as for :class:`~amorphxas.forward.compact.CompactSpectrum`; member
``i`` sees the feature columns ``columns[i] = (start, stop)`` and the valence. Every member is
fitted on the same rows with its own hyper-parameters (CV by cell when ``groups`` is given).

Prediction: the mean of the members' spectra. Predictive std (spectrum units):
``sigma^2 = c^2 * (mean_i sigma_i^2 + var_i mu_i)`` (each member's calibrated variance and the
spread of the members' means), with ``c`` the scalar that brings the 1-sigma / 2-sigma coverage
of the members' *out-of-fold* predictions on the training cells closest to 0.683 / 0.954
(recalibration on held-out training cells, never on test rows); ``recalibrate=False``: ``c = 1``.

Saved through :meth:`to_arrays` / :meth:`from_arrays` (the members' arrays, prefixed), so an
NPZ + JSON copy reloads and predicts bit-identically; no pickle.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from amorphxas.core.validation import check_matrix
from amorphxas.forward.compact import CompactSpectrum, nominal_coverage_scale
from amorphxas.forward.ridge import ForwardError, check_xy

KIND = "ensemble"
_MEMBER_KEYS = ("columns", "method", "residual", "target")


def _member_key(m: dict) -> dict:
    unknown = set(m) - set(_MEMBER_KEYS)
    if unknown or "columns" not in m:
        raise ForwardError(f"ensemble member {m}: needs 'columns' (start, stop) and only "
                           f"{', '.join(_MEMBER_KEYS)}")
    start, stop = (int(c) for c in m["columns"])
    return {"columns": [start, stop], "method": str(m.get("method", "krr")),
            "residual": bool(m.get("residual", True)), "target": str(m.get("target", "direct"))}


def combine_members(means, stds) -> tuple[np.ndarray, np.ndarray]:
    """(mean of the members' spectra, std from the mean member variance plus their spread)."""
    P = np.mean(means, axis=0)
    var = np.mean([s**2 for s in stds], axis=0) + np.var(means, axis=0)
    return P, np.sqrt(var)


class EnsembleSpectrum(RegressorMixin, BaseEstimator):
    """Mean of :class:`CompactSpectrum` members on column blocks; see the module docstring.

    Parameters
    ----------
    members : tuple of dicts {"columns": (start, stop), "method", "residual", "target"}:
        feature columns (0-based, stop exclusive, the valence column excluded) and the member's
        settings
    recalibrate : bool - scale the std to nominal coverage on out-of-fold training predictions
    cv : int - CV folds of every member (by group when ``groups`` is given)
    random_state : int
    """

    def __init__(self, members: tuple = (), recalibrate: bool = True, cv: int = 5,
                 random_state: int = 0):
        self.members = members
        self.recalibrate = recalibrate
        self.cv = cv
        self.random_state = random_state

    def _member_X(self, X, spec) -> np.ndarray:
        start, stop = spec["columns"]
        return np.column_stack([X[:, start:stop], X[:, -1]])

    def fit(self, X, Y, groups=None, sample_weight=None):
        """X (n, n_features + 1), valence last; Y (n, n_energy); groups (n,) e.g. cell ids."""
        specs = [_member_key(dict(m)) for m in self.members]
        if not specs:
            raise ForwardError("an ensemble needs at least one member")
        X, Y = check_xy(X, Y)
        for s in specs:
            start, stop = s["columns"]
            if not 0 <= start < stop <= X.shape[1] - 1:
                raise ForwardError(f"ensemble member columns {s['columns']}: outside the "
                                   f"{X.shape[1] - 1} feature columns")
        self.members_ = []
        oof = []
        for s in specs:
            est = CompactSpectrum(method=s["method"], residual=s["residual"], target=s["target"],
                                  cv=self.cv, random_state=self.random_state)
            est.fit(self._member_X(X, s), Y, groups=groups, sample_weight=sample_weight)
            self.members_.append(est)
            oof.append(est.oof_)
        self.specs_ = specs
        self.calib_scale_ = self._scale(Y, oof) if self.recalibrate else 1.0
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        self.n_train_ = X.shape[0]
        self.coef_ = np.zeros(0)  # fitted marker (check_is_fitted)
        return self

    def _scale(self, Y, oof) -> float:
        """c bringing the out-of-fold coverage closest to 0.683 / 0.954 (1.0 if unavailable)."""
        if any(o is None for o in oof):
            return 1.0
        P, S = combine_members([o[0] for o in oof], [o[1] for o in oof])
        return nominal_coverage_scale(np.abs(P - Y) / np.maximum(S, 1e-300))

    def predict(self, X, return_std: bool = False):
        """Spectra (n, n_energy) [and the calibrated predictive std (n, n_energy)]."""
        check_is_fitted(self, "members_")
        X = check_matrix(X, "X", n_columns=self.n_features_in_,
                         hint=" (features, then the valence)", error=ForwardError)
        outs = [m.predict(self._member_X(X, s), return_std=True)
                for m, s in zip(self.members_, self.specs_)]
        P, S = combine_members([o[0] for o in outs], [o[1] for o in outs])
        return (P, self.calib_scale_ * S) if return_std else P

    def member_inputs(self, X) -> list[np.ndarray]:
        """Each member's rows [its feature columns..., valence] (n, n_i + 1) of X (n, n_features + 1)."""
        check_is_fitted(self, "members_")
        X = check_matrix(X, "X", n_columns=self.n_features_in_,
                         hint=" (features, then the valence)", error=ForwardError)
        return [self._member_X(X, s) for s in self.specs_]

    # -- arrays for NPZ ----------------------------------------------------------------------
    def to_arrays(self) -> tuple[dict, dict]:
        """(arrays {"m<i>_<name>": float64 array}, JSON-able header)."""
        check_is_fitted(self, "members_")
        arrays, members = {}, []
        for i, m in enumerate(self.members_):
            a, h = m.to_arrays()
            arrays.update({f"m{i}_{k}": v for k, v in a.items()})
            members.append(h)
        params = {"members": [dict(s) for s in self.specs_], "recalibrate": bool(self.recalibrate),
                  "cv": int(self.cv), "random_state": int(self.random_state)}
        return arrays, {"type": KIND, "params": params, "members": members,
                        "calib_scale_": float(self.calib_scale_),
                        "n_features_in_": int(self.n_features_in_),
                        "n_outputs_": int(self.n_outputs_), "n_train_": int(self.n_train_)}

    @classmethod
    def from_arrays(cls, arrays: dict, header: dict) -> EnsembleSpectrum:
        params = dict(header["params"])
        params["members"] = tuple(dict(m) for m in params["members"])
        est = cls(**params)
        est.specs_ = [_member_key(m) for m in params["members"]]
        est.members_ = []
        for i, h in enumerate(header["members"]):
            prefix = f"m{i}_"
            est.members_.append(CompactSpectrum.from_arrays(
                {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}, h))
        for k in ("calib_scale_", "n_features_in_", "n_outputs_", "n_train_"):
            setattr(est, k, header[k])
        est.coef_ = np.zeros(0)
        return est


def estimator_from_arrays(arrays: dict, header: dict):
    """A saved compact estimator of either kind (single :class:`CompactSpectrum` or ensemble)."""
    if header.get("type") == KIND:
        return EnsembleSpectrum.from_arrays(arrays, header)
    return CompactSpectrum.from_arrays(arrays, header)
