"""Spectrum -> valence / Bader charge / RDF networks (study 2), with a small deep ensemble.

Estimators follow the scikit-learn API (hyper-parameters in ``__init__``, ``fit``/``predict``).
``X`` is always (n, 256): spectra on ``COMMON_GRID`` already passed through
:func:`amorphxas.inverse.preprocess.preprocess`; the estimator slices its own energy ``window``.

Training uses PyTorch (CPU, imported lazily: only ``fit`` needs it). Prediction is a numpy forward
pass over the stored weights, so a saved model is used without torch and without running any
stored code. Files: ``model.npz`` (plain float arrays, no pickle) + ``model.json`` (header).

Bounded heads: with ``bounds=(lo, hi)`` (scalars, or (n_out,) arrays for the RDF) the last layer is
``lo + (hi - lo) * sigmoid(z)``, in training and in prediction, so no input (spike, noise, a
spectrum unlike any training one) can give a value outside the physical range. Weights or outputs
that are not finite are refused with an error, never returned as NaN.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.persistence import check_format, read_arrays, read_header, save_npz_json
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.core.validation import check_matrix
from amorphxas.inverse.baseline import EdgeBaseline, LinearBaseline, heuristic_features
from amorphxas.inverse.fractions import ValenceFractions
from amorphxas.inverse.preprocess import InverseInputError, window_mask

FORMAT = "amorphxas-inverse-model"
FORMAT_VERSION = 2  # 2: optional bounded (sigmoid) heads
READABLE_VERSIONS = (1, 2)
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU default
VALENCE_RANGE = (0.0, 4.0)  # O neighbours of Si
CHARGE_RANGE_E = (-0.5, 3.5)  # Bader charge of Si (e); the dataset spans about -0.2 .. 3.2 e


def _torch():
    try:
        import torch
    except ImportError:
        raise AmorphxasError("training inverse models needs PyTorch: "
                             "pip install 'amorphxas[nn]' (torch==2.13.0, CPU build)") from None
    return torch


def check_X(X, n_features: int = COMMON_GRID.size) -> np.ndarray:
    """Model input: finite (n, 256) array on COMMON_GRID (a single spectrum (256,) becomes (1, 256));
    a one-line :class:`InverseInputError` otherwise (:func:`amorphxas.core.validation.check_matrix`)."""
    return check_matrix(X, "model input", n_columns=n_features, columns="energy points",
                        hint=" (COMMON_GRID)", promote_1d=True, error=InverseInputError)


class _SpectrumMLP(BaseEstimator, RegressorMixin):
    """Base: an ensemble of ``n_members`` MLPs trained from different seeds; mean and std."""

    activation = "leaky_relu"
    target_name = "scalar"
    clip = (None, None)

    def __init__(self, hidden=(256, 256, 256), window=None, lr=1e-3, batch_size=128,
                 max_epochs=600, patience=40, val_fraction=0.15, weight_decay=0.0,
                 n_members=5, seed=0, n_threads=1, fit_baseline=True, bounds=None):
        self.hidden = hidden
        self.window = window
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.weight_decay = weight_decay
        self.n_members = n_members
        self.seed = seed
        self.n_threads = n_threads
        self.fit_baseline = fit_baseline
        self.bounds = bounds

    def _set_bounds(self, n_out: int) -> None:
        """``bounds_`` = (lo (n_out,), hi (n_out,)) in target units, or None (unbounded head)."""
        self.bounds_ = None
        if self.bounds is None:
            return
        lo, hi = (np.broadcast_to(np.asarray(b, dtype=float), (n_out,)).copy() for b in self.bounds)
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi >= lo)):
            raise InverseInputError(f"bounds must be finite with hi >= lo, got {self.bounds}")
        self.bounds_ = (lo, hi)

    # ---- training (torch) ----
    def _check_y(self, y, n):
        y = np.asarray(y, dtype=float)
        if y.shape[0] != n:
            raise InverseInputError(f"{n} spectra but {y.shape[0]} targets")
        if not np.all(np.isfinite(y)):
            raise InverseInputError("targets contain NaN or infinite values")
        return y

    def fit(self, X, y):
        torch = _torch()
        X = check_X(X)
        y = self._check_y(y, X.shape[0])
        self.mask_ = window_mask(COMMON_GRID, self.window)
        Xw = X[:, self.mask_]
        self.x_mean_ = Xw.mean(axis=0)
        self.x_scale_ = Xw.std(axis=0)
        self.x_scale_[self.x_scale_ < 1e-8] = 1.0
        y2 = y.reshape(len(y), -1)
        self._set_bounds(y2.shape[1])
        self.y_mean_ = y2.mean(axis=0)
        self.y_scale_ = np.full(y2.shape[1], y2.std() if y2.std() > 1e-8 else 1.0)
        if self.bounds_ is not None:  # the head is bounded in target units; y_* map them to z
            lo, hi = self.bounds_
            y2 = np.clip(y2, lo, hi)
            self.y_mean_ = np.zeros(y2.shape[1])
        xs = ((Xw - self.x_mean_) / self.x_scale_).astype(np.float32)
        ys = ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)
        old_threads = torch.get_num_threads()
        torch.set_num_threads(int(self.n_threads))
        t0 = time.perf_counter()
        try:
            self.members_ = []
            self.epochs_ = []
            for member in range(int(self.n_members)):
                state, epochs = self._train_one(torch, xs, ys, int(self.seed) * 1000 + member)
                self.members_.append(state)
                self.epochs_.append(epochs)
        finally:
            torch.set_num_threads(old_threads)
        self.train_seconds_ = time.perf_counter() - t0
        self.n_train_ = int(X.shape[0])
        self.output_dim_ = int(y2.shape[1])
        self.scalar_ = y.ndim == 1
        self.training_hash_ = hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest()[:16]
        self.baselines_ = {}
        if self.fit_baseline and self.scalar_:
            feats = heuristic_features(COMMON_GRID, X)
            self.baselines_ = {"linear": LinearBaseline().fit(feats, y),
                               "edge": EdgeBaseline().fit(feats, y)}
        self.fractions_ = None
        if self.target_name == "valence" and np.allclose(y, np.rint(y)):
            self.fractions_ = ValenceFractions().fit(X[:, self.mask_], y)
        return self

    def _build(self, torch, n_in, n_out):
        layers = []
        for width in self.hidden:
            layers.append(torch.nn.Linear(n_in, int(width)))
            layers.append(torch.nn.LeakyReLU(LEAKY_SLOPE) if self.activation == "leaky_relu"
                          else torch.nn.ReLU())
            n_in = int(width)
        layers.append(torch.nn.Linear(n_in, n_out))
        return torch.nn.Sequential(*layers)

    def _train_one(self, torch, xs, ys, seed):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        n = xs.shape[0]
        n_val = int(round(self.val_fraction * n)) if n >= 10 else 0
        order = rng.permutation(n)
        val, train = order[:n_val], order[n_val:]
        net = self._build(torch, xs.shape[1], ys.shape[1])
        if self.bounds_ is not None:
            lo, hi = (torch.from_numpy((b / self.y_scale_).astype(np.float32)) for b in self.bounds_)
            net = torch.nn.Sequential(*net, _BoundedHead(torch, lo, hi))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        xt, yt = torch.from_numpy(xs[train]), torch.from_numpy(ys[train])
        xv, yv = torch.from_numpy(xs[val]), torch.from_numpy(ys[val])
        loss_fn = torch.nn.MSELoss()
        best, best_state, best_epoch, epoch = np.inf, None, 0, 0
        for epoch in range(1, int(self.max_epochs) + 1):
            net.train()
            perm = rng.permutation(len(train))
            for start in range(0, len(train), int(self.batch_size)):
                idx = torch.from_numpy(perm[start:start + int(self.batch_size)])
                opt.zero_grad()
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            if n_val:
                net.eval()
                with torch.no_grad():
                    score = float(loss_fn(net(xv), yv))
                if score < best - 1e-7:
                    best, best_epoch = score, epoch
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                elif epoch - best_epoch >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            raise AmorphxasError(f"{type(self).__name__}: training diverged (non-finite weights)")
        weights = [(m.weight.detach().numpy().astype(np.float64).copy(),
                    m.bias.detach().numpy().astype(np.float64).copy())
                   for m in net if isinstance(m, torch.nn.Linear)]
        return weights, (best_epoch if n_val else epoch)

    # ---- prediction (numpy) ----
    def _forward(self, xs, weights):
        h = xs
        for i, (w, b) in enumerate(weights):
            h = h @ w.T + b
            if i < len(weights) - 1:
                h = np.where(h > 0, h, LEAKY_SLOPE * h) if self.activation == "leaky_relu" \
                    else np.maximum(h, 0.0)
        if getattr(self, "bounds_", None) is not None:
            lo, hi = (b / self.y_scale_ for b in self.bounds_)
            h = lo + (hi - lo) * _sigmoid(h)
        return h

    def _check_fitted(self):
        if not hasattr(self, "members_"):
            raise AmorphxasError(f"{type(self).__name__} is not fitted: call fit() or load_model()")

    def predict_members(self, X) -> np.ndarray:
        """Unclipped predictions of every member: (n_members, n) or (n_members, n, n_out)."""
        self._check_fitted()
        X = check_X(X)
        xs = (X[:, self.mask_] - self.x_mean_) / self.x_scale_
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.stack([self._forward(xs, w) * self.y_scale_ + self.y_mean_
                            for w in self.members_])
        if not np.all(np.isfinite(out)):
            raise AmorphxasError(f"{type(self).__name__}: the network output is not finite "
                                 "(corrupt weights or an input far outside the training range)")
        return out[..., 0] if self.scalar_ else out

    def predict(self, X, return_std: bool = False):
        """Ensemble mean (clipped to the physical range); with ``return_std`` also the ensemble
        standard deviation (of the unclipped members, so clipping never hides disagreement)."""
        members = self.predict_members(X)
        mean = members.mean(axis=0)
        lo, hi = self.clip
        if lo is not None or hi is not None:
            mean = np.clip(mean, lo, hi)
        return (mean, members.std(axis=0)) if return_std else mean

    def predict_baseline(self, X) -> dict[str, np.ndarray]:
        """Heuristic baselines fitted on the same training data: {'linear': ..., 'edge': ...}."""
        self._check_fitted()
        if not self.baselines_:
            return {}
        feats = heuristic_features(COMMON_GRID, check_X(X))
        return {name: b.predict(feats) for name, b in self.baselines_.items()}


class SpectrumToValence(_SpectrumMLP):
    """Formal valence (number of O neighbours, 0-4) as a continuous value; 3 x 256 leaky-ReLU.
    Fitted on integer valences it also learns the per-valence mean spectra, from which
    :meth:`predict_fractions` reads the Si0..Si4+ fractions of a mixture (:mod:`.fractions`)."""

    target_name = "valence"
    clip = VALENCE_RANGE

    def predict_fractions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(fractions (n, n_classes), classes): linear-combination fit of the spectra on the
        training sites' per-valence mean spectra, inside the model's window."""
        self._check_fitted()
        if getattr(self, "fractions_", None) is None:
            raise AmorphxasError("this valence model has no valence components (trained on "
                                 "non-integer valences)")
        return self.fractions_.predict(check_X(X)[:, self.mask_]), self.fractions_.classes_


class SpectrumToCharge(_SpectrumMLP):
    """Bader charge of the absorbing Si (e); 3 x 256 leaky-ReLU."""

    target_name = "charge"
    clip = CHARGE_RANGE_E


class SpectrumToRDF(_SpectrumMLP):
    """Per-site RDF g_i(R), 0-5 Angstrom, 256 points; 3 x 512 ReLU; predictions clipped at 0."""

    activation = "relu"
    target_name = "rdf"
    clip = (0.0, None)

    def __init__(self, hidden=(512, 512, 512), window=None, lr=1e-3, batch_size=128,
                 max_epochs=600, patience=40, val_fraction=0.15, weight_decay=0.0,
                 n_members=5, seed=0, n_threads=1, fit_baseline=False, bounds=None):
        super().__init__(hidden=hidden, window=window, lr=lr, batch_size=batch_size,
                         max_epochs=max_epochs, patience=patience, val_fraction=val_fraction,
                         weight_decay=weight_decay, n_members=n_members, seed=seed,
                         n_threads=n_threads, fit_baseline=fit_baseline, bounds=bounds)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    out = np.empty_like(z, dtype=float)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _BoundedHead(torch, lo, hi):
    """torch module ``lo + (hi - lo) * sigmoid(z)`` (lo, hi: tensors in scaled target units)."""

    class BoundedHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("lo", lo)
            self.register_buffer("hi", hi)

        def forward(self, z):
            return self.lo + (self.hi - self.lo) * torch.sigmoid(z)

    return BoundedHead()


def default_bounds(target: str, y) -> tuple:
    """Physical range of a target for a bounded head: valence :data:`VALENCE_RANGE`, charge
    :data:`CHARGE_RANGE_E` (e), RDF (0, per-bin maximum of the training RDFs ``y`` (n, 256))."""
    if target == "valence":
        return VALENCE_RANGE
    if target == "charge":
        return CHARGE_RANGE_E
    return (np.zeros(np.shape(y)[1]), np.asarray(y, dtype=float).max(axis=0))


ESTIMATORS = {"valence": SpectrumToValence, "charge": SpectrumToCharge, "rdf": SpectrumToRDF}
_BY_CLASS = {cls.__name__: cls for cls in ESTIMATORS.values()}


def save_model(model: _SpectrumMLP, directory: str | Path, extra: dict | None = None) -> Path:
    """Write ``directory/model.npz`` (plain arrays) and ``directory/model.json`` (header)."""
    model._check_fitted()
    directory = Path(directory)
    arrays = {"x_mean": model.x_mean_, "x_scale": model.x_scale_, "y_mean": model.y_mean_,
              "y_scale": model.y_scale_, "mask": model.mask_.astype(np.uint8), "grid": COMMON_GRID}
    bounds = getattr(model, "bounds_", None)
    if bounds is not None:
        arrays["bounds_lo"], arrays["bounds_hi"] = bounds
    for k, weights in enumerate(model.members_):
        for j, (w, b) in enumerate(weights):
            arrays[f"member{k}.layer{j}.weight"] = w
            arrays[f"member{k}.layer{j}.bias"] = b
    for name, baseline in model.baselines_.items():
        for key, value in baseline.arrays().items():
            arrays[f"baseline.{name}.{key}"] = np.asarray(value, dtype=float)
    fractions = getattr(model, "fractions_", None)
    if fractions is not None:
        arrays.update({f"lcf.{key}": value for key, value in fractions.arrays().items()})
    params = model.get_params()
    params["hidden"] = [int(h) for h in params["hidden"]]
    params["window"] = None if params["window"] is None else [float(v) for v in params["window"]]
    params["bounds"] = None  # stored as arrays (bounds_lo / bounds_hi)
    from amorphxas import __version__

    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "class": type(model).__name__,
        "target": model.target_name, "params": params, "n_members": len(model.members_),
        "n_layers": len(model.members_[0]), "scalar": bool(model.scalar_),
        "output_dim": model.output_dim_, "n_train": model.n_train_,
        "training_hash": model.training_hash_, "epochs": [int(e) for e in model.epochs_],
        "train_seconds": round(float(model.train_seconds_), 3),
        "baselines": sorted(model.baselines_), "valence_fractions": fractions is not None,
        "bounded": bounds is not None,
        "grid": {"start": float(COMMON_GRID[0]), "stop": float(COMMON_GRID[-1]),
                 "n": int(COMMON_GRID.size)},
        "normalisation": "resample to grid; subtract mean over 1830-1833 eV; divide by mean over "
                         "1865-1880 eV (amorphxas.inverse.preprocess.preprocess)",
        "amorphxas_version": __version__, "extra": extra or {},
    }
    save_npz_json(directory / "model.npz", directory / "model.json", arrays, header)
    return directory


def load_model(directory: str | Path) -> _SpectrumMLP:
    """Load a model written by :func:`save_model` (no pickle, no code executed)."""
    directory = Path(directory)
    if not (directory / "model.json").is_file():
        what = "no model.json in the folder" if directory.is_dir() else "no such model folder"
        raise AmorphxasError(f"{directory}: not a readable inverse model ({what})")
    header = read_header(directory / "model.json")
    check_format(header, directory, FORMAT, versions=READABLE_VERSIONS, what="inverse model")
    cls = _BY_CLASS.get(header["class"])
    if cls is None:
        raise AmorphxasError(f"{directory}: unknown model class {header['class']!r}")
    params = dict(header["params"])
    params["hidden"] = tuple(params["hidden"])
    params["window"] = None if params["window"] is None else tuple(params["window"])
    params["bounds"] = None
    model = cls(**params)
    data = read_arrays(directory / "model.npz", finite=True)
    if not np.allclose(data["grid"], COMMON_GRID):
        raise AmorphxasError(f"{directory}: model energy grid differs from COMMON_GRID")
    model.x_mean_, model.x_scale_ = data["x_mean"], data["x_scale"]
    model.y_mean_, model.y_scale_ = data["y_mean"], data["y_scale"]
    model.mask_ = data["mask"].astype(bool)
    model.bounds_ = ((data["bounds_lo"], data["bounds_hi"]) if header.get("bounded")
                     else None)
    model.members_ = [[(data[f"member{k}.layer{j}.weight"], data[f"member{k}.layer{j}.bias"])
                       for j in range(header["n_layers"])] for k in range(header["n_members"])]
    model.baselines_ = {}
    for name in header["baselines"]:
        cls_b = {"linear": LinearBaseline, "edge": EdgeBaseline}[name]
        prefix = f"baseline.{name}."
        model.baselines_[name] = cls_b.from_arrays(
            {k[len(prefix):]: data[k] for k in data if k.startswith(prefix)})
    model.fractions_ = (ValenceFractions.from_arrays(
        {"components": data["lcf.components"], "classes": data["lcf.classes"]})
        if header.get("valence_fractions") else None)
    model.scalar_ = header["scalar"]
    model.output_dim_ = header["output_dim"]
    model.n_train_ = header["n_train"]
    model.training_hash_ = header["training_hash"]
    model.epochs_ = header["epochs"]
    model.train_seconds_ = header["train_seconds"]
    model.header_ = header
    return model
