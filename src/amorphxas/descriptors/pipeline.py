"""Standardise + PCA (keep 99.9 % of the variance), saved as NPZ + JSON (no pickle).

The PCA is an eigendecomposition of whichever is smaller, the Gram matrix Z Z^T (n_site x
n_site, used when there are more features than sites, e.g. qSNAP's 29,160) or the covariance
Z^T Z (n_feature x n_feature); the kept count is the smallest k whose cumulative explained
variance ratio reaches ``variance`` (scikit-learn's rule for ``PCA(n_components=0.999)``).
Components have a deterministic sign (largest-magnitude entry positive). Features with zero
variance are kept with scale 1 (as scikit-learn's ``StandardScaler``).

Files: ``<stem>.npz`` holds ``mean``, ``scale``, ``components`` (k x d), ``explained_variance``,
``explained_variance_ratio``; ``<stem>.json`` holds the header (format, amorphxas version,
descriptor parameters, variance target, n_samples, n_features, n_components, training-set
SHA-256). Loading uses ``np.load(allow_pickle=False)`` and ``json``: it executes no code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "amorphxas.descriptors.pca/1"
_ARRAYS = ("mean", "scale", "components", "explained_variance", "explained_variance_ratio")


def _stem(path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


@dataclass
class PCAPipeline:
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    header: dict = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def standardise(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) descriptors, got {X.shape}")
        return (X - self.mean) / self.scale

    def transform(self, X, chunk: int = 4096) -> np.ndarray:
        """Project descriptors (n, d) -> (n, k), in row chunks of ``chunk``."""
        X = np.asarray(X)
        out = np.empty((X.shape[0], self.n_components))
        for s in range(0, X.shape[0], chunk):
            out[s:s + chunk] = self.standardise(X[s:s + chunk]) @ self.components.T
        return out

    def save(self, path) -> tuple[Path, Path]:
        """Write ``<stem>.npz`` and ``<stem>.json``; return both paths."""
        stem = _stem(path)
        stem.parent.mkdir(parents=True, exist_ok=True)
        npz, js = stem.with_suffix(".npz"), stem.with_suffix(".json")
        np.savez(npz, **{k: np.asarray(getattr(self, k), dtype=np.float64) for k in _ARRAYS})
        header = dict(self.header)
        header.update({"format": FORMAT, "n_features": self.n_features,
                       "n_components": self.n_components, "arrays": npz.name})
        js.write_text(json.dumps(header, indent=1, sort_keys=True))
        return npz, js

    @classmethod
    def load(cls, path) -> PCAPipeline:
        stem = _stem(path)
        header = json.loads(stem.with_suffix(".json").read_text())
        if header.get("format") != FORMAT:
            raise ValueError(f"{stem}.json: not an amorphxas PCA file (format {header.get('format')!r})")
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
            arrays = {k: np.array(data[k]) for k in _ARRAYS}
        out = cls(header=header, **arrays)
        if out.n_components != header["n_components"] or out.n_features != header["n_features"]:
            raise ValueError(f"{stem}: header and arrays disagree")
        return out


def fit_pca(X, variance: float = 0.999, parameters: dict | None = None,
            method: str = "auto") -> PCAPipeline:
    """Standardise the (n_site, n_feature) matrix ``X`` and fit a PCA keeping ``variance``.

    ``method``: ``auto`` (the smaller of the two), ``gram`` or ``covariance``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"need at least 2 sites to fit a PCA, got shape {X.shape}")
    if not 0.0 < variance <= 1.0:
        raise ValueError("variance must be in (0, 1]")
    n, d = X.shape
    digest = hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    scale = np.where(std > 1e-12 * max(1.0, float(np.abs(mean).max(initial=0.0))), std, 1.0)
    Z = (X - mean) / scale
    del X
    if method not in ("auto", "gram", "covariance"):
        raise ValueError(f"unknown PCA method {method!r}")
    if method == "gram" or (method == "auto" and n <= d):
        gram = Z @ Z.T
        evals, evecs = np.linalg.eigh(gram)
        evals, evecs = evals[::-1], evecs[:, ::-1]
        keep = evals > evals[0] * 1e-12 if evals[0] > 0 else np.zeros_like(evals, bool)
        evals, evecs = evals[keep], evecs[:, keep]
        components = (Z.T @ evecs / np.sqrt(evals)).T
    else:
        cov = Z.T @ Z
        evals, evecs = np.linalg.eigh(cov)
        evals, evecs = evals[::-1], evecs[:, ::-1]
        keep = evals > evals[0] * 1e-12 if evals[0] > 0 else np.zeros_like(evals, bool)
        evals, components = evals[keep], evecs[:, keep].T
    explained = evals / (n - 1)
    total = float(np.sum(Z * Z)) / (n - 1)
    ratio = explained / total if total > 0 else np.zeros_like(explained)
    k = int(np.searchsorted(np.cumsum(ratio), variance, side="right") + 1)
    k = max(1, min(k, len(ratio)))
    components = components[:k]
    signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    signs[signs == 0] = 1.0
    components = components * signs[:, None]
    from amorphxas import __version__

    header = {"amorphxas_version": __version__, "variance_target": float(variance),
              "n_samples": int(n), "training_sha256": digest,
              "explained_variance_total": float(ratio[:k].sum()),
              "descriptor": parameters or {}}
    return PCAPipeline(mean=mean, scale=scale, components=np.ascontiguousarray(components),
                       explained_variance=explained[:k], explained_variance_ratio=ratio[:k],
                       header=header)
