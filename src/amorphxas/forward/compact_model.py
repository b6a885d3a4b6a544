"""The default forward model: compact site features (CHGNet embeddings / physical features) ->
:class:`~amorphxas.forward.compact.CompactSpectrum`, with a kNN domain check; NPZ + JSON on disk.

* :func:`pool_features` - the (n_pool, n_features + 1) input of every Si site of a dataset
  (feature blocks of ``kinds`` side by side, valence last) and the pool (spectra, cells).
* :func:`train_compact` - fit on the training part of a split, metrics on its test part.
* :class:`CompactForwardModel` - ``predict``, ``domain_check``, ``save`` / ``load``.
* :func:`predict_structure_compact` - every Si of a structure file, with per-site domain flags.

Domain check: the features are standardised with the pool (every Si of the dataset, spectra or
not) and projected on the pool's leading ``DOMAIN_PCS`` principal components, whitened. A site's
score is its mean distance to the ``K_NN`` nearest pool sites. The threshold is the
``DOMAIN_QUANTILE`` quantile of the pool's own scores computed leave-one-cell-out (each cell
against the other cells), i.e. the distance a site of a *new cell of the same family* reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amorphxas.core import persistence
from amorphxas.forward.cell_shift import CELL_MARGIN, cell_shift, fit_cell_shift
from amorphxas.forward.compact import CompactSpectrum
from amorphxas.forward.ensemble import EnsembleSpectrum, estimator_from_arrays
from amorphxas.forward.metrics import coverage_by_valence
from amorphxas.forward.ridge import ForwardError

FORMAT = "amorphxas.forward.compact/1"
DEFAULT_KINDS = ("physical",)
DOMAIN_PCS = 10
K_NN = 5
DOMAIN_QUANTILE = 0.98


def pool_features(dataset=None, kinds=DEFAULT_KINDS, descriptors=None, n_jobs: int = 1,
                  fidelity: str = "primary"):
    """(X (n_pool, sum n_features + 1) with the valence last, pool of the first kind, params).

    ``fidelity``: which spectra the pool holds (:func:`amorphxas.forward.pool.load_pool`)."""
    from amorphxas.forward.pool import load_pool

    pools = [load_pool(dataset, k, "study1", descriptors, n_jobs, fidelity=fidelity) for k in kinds]
    pool = pools[0]
    X = np.column_stack([p.X_raw for p in pools] + [pool.valence.astype(float)])
    return X, pool, {k: p.descriptor for k, p in zip(kinds, pools)}


def structure_features(atoms, kinds=DEFAULT_KINDS) -> tuple[np.ndarray, np.ndarray]:
    """(X rows of every Si of ``atoms`` as in :func:`pool_features`, Si atom indices)."""
    from amorphxas.descriptors import get_descriptor
    from amorphxas.sites.analysis import analyse

    info = analyse(atoms, with_rdf=False)
    blocks = [get_descriptor(k, "study1").compute(atoms, info.index) for k in kinds]
    return np.column_stack(blocks + [info.valence.astype(float)]), info.index


# ---------------------------------------------------------------------------------------------
# domain check
# ---------------------------------------------------------------------------------------------
def _knn_score(Q, R, k=K_NN) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(k, R.shape[0]), algorithm="brute").fit(R)
    return nn.kneighbors(Q)[0].mean(axis=1)


def fit_domain(F_pool: np.ndarray, cell_id, n_pcs: int = DOMAIN_PCS,
               quantile: float = DOMAIN_QUANTILE, valence=None) -> dict:
    """Arrays of the kNN domain check fitted on the pool's features (no valence column); with
    the pool's ``valence``, also the cell-level check (:mod:`amorphxas.forward.cell_shift`)."""
    mean = F_pool.mean(axis=0)
    scale = np.where(F_pool.std(axis=0) > 1e-12, F_pool.std(axis=0), 1.0)
    S = (F_pool - mean) / scale
    _, sv, Vt = np.linalg.svd(S, full_matrices=False)
    k = min(n_pcs, Vt.shape[0])
    proj = Vt[:k].T / (sv[:k] / np.sqrt(S.shape[0]))  # whitened projection (d, k)
    ref = S @ proj
    cell_id = np.asarray(cell_id).astype(str)
    loo = np.empty(ref.shape[0])
    for c in np.unique(cell_id):
        rows = cell_id == c
        loo[rows] = _knn_score(ref[rows], ref[~rows]) if (~rows).any() else 0.0
    out = {"mean": mean, "scale": scale, "proj": proj, "ref": ref,
           "threshold": float(np.quantile(loo, quantile)), "loo_scores": loo}
    if valence is not None:
        out.update(fit_cell_shift(F_pool, valence, cell_id))
    return out


# ---------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------
@dataclass
class CompactForwardModel:
    estimator: CompactSpectrum | EnsembleSpectrum
    domain: dict
    energy: np.ndarray
    scale: float = 1.0
    header: dict = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return list(self.header["kinds"])

    def predict(self, X, return_std: bool = False):
        """Normalised spectra (n, n_energy) of rows [features..., valence] [and their std]."""
        return self.estimator.predict(X, return_std=return_std)

    def domain_coordinates(self, X) -> np.ndarray:
        """(n, n_pcs) whitened coordinates of rows [features..., valence] on the pool's leading
        principal components (the space of the kNN domain check; the map of study 1 Fig. 12b).
        The check uses the feature columns ``header["domain_columns"]`` (start, stop; default
        all), e.g. the physical block of a CHGNet + physical model."""
        F = self._domain_features(X)
        return ((F - self.domain["mean"]) / self.domain["scale"]) @ self.domain["proj"]

    def _domain_features(self, X) -> np.ndarray:
        start, stop = self.header.get("domain_columns") or (0, np.asarray(X).shape[1] - 1)
        return np.asarray(X, float)[:, start:stop]

    def domain_scores(self, X) -> np.ndarray:
        return _knn_score(self.domain_coordinates(X), self.domain["ref"])

    def domain_check(self, X) -> dict:
        """Per-site flags: kNN score above the threshold, or a valence above 4 (over-coordinated
        Si is outside the modelled classes). Counts of each and the combined flag. Models with
        the cell-level check also give ``cell_shift`` (the largest mean feature shift of the
        rows, taken as one structure, in pool site standard deviations), ``cell_threshold``,
        ``cell_outside`` and ``cell_shift_feature`` (its column in the domain block)."""
        X = np.asarray(X, float)
        score = self.domain_scores(X)
        far = score > self.domain["threshold"]
        over = X[:, -1] > 4.5
        out = {"n_sites": int(X.shape[0]), "n_outside_knn": int(far.sum()),
               "n_overcoordinated": int(over.sum()), "n_outside": int((far | over).sum()),
               "knn_score": score, "outside": far | over,
               "threshold": float(self.domain["threshold"])}
        if "cell_mean" in self.domain:
            stat, shift = cell_shift(self._domain_features(X), X[:, -1], self.domain["cell_mean"],
                                     self.domain["cell_sd"])
            out.update({"cell_shift": stat, "cell_threshold": float(self.domain["cell_threshold"]),
                        "cell_outside": bool(stat > self.domain["cell_threshold"]),
                        "cell_shift_feature": int(np.nanargmax(np.abs(shift)))
                        if np.isfinite(stat) else -1})
            out["cell_shift_value"] = (float(shift[out["cell_shift_feature"]])
                                       if np.isfinite(stat) else float("nan"))
        return out

    # -- disk ----------------------------------------------------------------------------------
    _DOMAIN_ARRAYS = ("mean", "scale", "proj", "ref")
    _CELL_ARRAYS = ("cell_mean", "cell_sd")  # the cell-level check (models since its addition)

    def save(self, stem) -> tuple[Path, Path]:
        """``<stem>.npz`` (arrays) + ``<stem>.json`` (header), atomically; loading runs no code
        (:mod:`amorphxas.core.persistence`)."""
        npz, js = persistence.stem_files(stem, folder=False)
        est_arrays, est_header = self.estimator.to_arrays()
        arrays = {f"est_{k}": v for k, v in est_arrays.items()}
        arrays.update({f"domain_{k}": np.asarray(self.domain[k], np.float64)
                       for k in self._DOMAIN_ARRAYS + self._CELL_ARRAYS if k in self.domain})
        arrays["energy"] = np.asarray(self.energy, np.float64)
        header = dict(self.header)
        header.update({"format": FORMAT, "scale": float(self.scale), "estimator": est_header,
                       "domain": {"threshold": float(self.domain["threshold"]), "k_nn": K_NN,
                                  **({"cell_threshold": float(self.domain["cell_threshold"])}
                                     if "cell_threshold" in self.domain else {}),
                                  "n_pcs": int(np.asarray(self.domain["proj"]).shape[1]),
                                  "quantile": DOMAIN_QUANTILE,
                                  "n_reference_sites": int(np.asarray(self.domain["ref"]).shape[0])},
                       "arrays": npz.name})
        return persistence.save_npz_json(npz, js, arrays, header, sort_keys=True, default=float,
                                         error=ForwardError)

    @classmethod
    def load(cls, stem) -> CompactForwardModel:
        npz, js = persistence.stem_files(stem)
        header = persistence.read_header(js, error=ForwardError)
        persistence.check_format(header, stem, FORMAT, what="compact forward model", error=ForwardError)
        arrays = persistence.read_arrays(npz, error=ForwardError)
        est = estimator_from_arrays(
            {k[4:]: v for k, v in arrays.items() if k.startswith("est_")}, header["estimator"])
        domain = {k: arrays[f"domain_{k}"] for k in cls._DOMAIN_ARRAYS + cls._CELL_ARRAYS
                  if f"domain_{k}" in arrays}
        domain["threshold"] = float(header["domain"]["threshold"])
        if "cell_threshold" in header["domain"]:
            domain["cell_threshold"] = float(header["domain"]["cell_threshold"])
        return cls(estimator=est, domain=domain, energy=arrays["energy"],
                   scale=float(header["scale"]), header=header)


def load_forward(stem):
    """A saved forward model of either format (compact default or study-1 descriptor ridge)."""
    from amorphxas.forward.model import ForwardModel

    _, js = persistence.stem_files(stem)
    if not js.exists():  # name the path the user gave, not <path>.json
        where = "a folder without model.json" if Path(stem).is_dir() else "no such model folder"
        raise ForwardError(f"{stem}: {where} (a forward model is written by "
                           "`amorphxas train forward -o MODEL_DIR`)")
    fmt = persistence.read_header(js, error=ForwardError).get("format")
    return CompactForwardModel.load(stem) if fmt == FORMAT else ForwardModel.load(stem)


# ---------------------------------------------------------------------------------------------
# training and prediction
# ---------------------------------------------------------------------------------------------
#: the spectra the default model trains on (:func:`amorphxas.dataset.tables.select_fidelity`)
TRAINING_FIDELITY = "primary+screening"
#: the single-model settings: kernel ridge on the physical features, residual on the valence mean
#: (the default ensemble's first member; ``train_compact`` with user settings starts from it)
DEFAULT_SETTINGS = {"kinds": ["physical"], "method": "krr", "residual": True, "target": "direct"}
#: the default model of ``amorphxas train forward``: the mean of two kernel ridge models, the one
#: above and one on CHGNet + physical features (direct); the domain check uses the physical block.
#: The winner of benchmarks/forward/bench_forward_default.py on the cell split (docs/forward.md)
DEFAULT_ENSEMBLE = {"kinds": ["chgnet", "physical"], "domain_kinds": ["physical"],
                    "members": [DEFAULT_SETTINGS,
                                {"kinds": ["chgnet", "physical"], "method": "krr", "residual": False,
                                 "target": "direct"}]}
#: what the choice rests on, written into every default model (tests check it against the files)
BENCHMARK = {"candidate": "ensemble (default + krr chgnet+physical)",
             "single_model": "krr physical residual",
             "n_spectra_by_fidelity": {"gamma": 12, "v4": 130}, "n_cells": 18, "n_seeds": 10,
             # train_compact on the cell split (ratio to the valence mean of the same training rows)
             "cell_split_ratio_to_baseline": 0.8423,
             "cell_split_ratio_std": 0.0441,
             "cell_split_paired_diff_to_single": -0.0216,
             "cell_split_paired_diff_std": 0.0132,
             "source": "docs/results/forward_default_model.json",
             # the candidates' benchmark (bench_forward_default.py), random split
             "random_split_ratio_to_baseline": 0.8381,
             "source_candidates": ["docs/results/forward_default_paired_cell.json",
                                   "docs/results/forward_default_paired_random.json"]}


def default_settings() -> dict:
    """The ``settings`` entry of a default model's header (kinds, ensemble members, method)."""
    return {"kinds": list(DEFAULT_ENSEMBLE["kinds"]), "ensemble": DEFAULT_ENSEMBLE["members"],
            "method": "mean of two kernel ridge models (physical residual, chgnet+physical)"}


def _blocks(kinds, params) -> dict:
    """{kind: (start, stop)} feature columns of each kind in :func:`pool_features` rows."""
    out, start = {}, 0
    for k in kinds:
        n = int(params[k]["n_features"])
        out[k] = (start, start + n)
        start += n
    return out


def _columns(blocks: dict, kinds) -> list[int]:
    """(start, stop) of the contiguous feature columns of ``kinds`` (in the pool's order)."""
    spans = sorted(blocks[k] for k in kinds)
    if any(a[1] != b[0] for a, b in zip(spans, spans[1:])):
        raise ForwardError(f"feature kinds {list(kinds)} are not contiguous in {list(blocks)}")
    return [spans[0][0], spans[-1][1]]


def default_estimator(blocks: dict, seed: int = 0) -> EnsembleSpectrum:
    """The :data:`DEFAULT_ENSEMBLE` estimator for rows with the feature ``blocks``."""
    members = tuple({"columns": _columns(blocks, m["kinds"]),
                     **{k: m[k] for k in ("method", "residual", "target")}}
                    for m in DEFAULT_ENSEMBLE["members"])
    return EnsembleSpectrum(members=members, random_state=seed)


def fit_default_estimator(X, Y, cell_id, rows, params: dict, seed: int = 0) -> EnsembleSpectrum:
    """:func:`default_estimator` fitted on ``rows`` of (X, Y), CV folds by cell; X, params:
    :func:`pool_features` of ``DEFAULT_ENSEMBLE["kinds"]`` (``amorphxas select``, large cells)."""
    est = default_estimator(_blocks(DEFAULT_ENSEMBLE["kinds"], params), seed)
    return est.fit(X[rows], Y[rows], groups=np.asarray(cell_id)[rows])


def default_domain_columns(params: dict) -> list[int]:
    """(start, stop) of the default model's domain-check block in its :func:`pool_features` rows."""
    return _columns(_blocks(DEFAULT_ENSEMBLE["kinds"], params), DEFAULT_ENSEMBLE["domain_kinds"])


def fit_model_domain(X: np.ndarray, pool, columns: list[int], kinds: list[str]) -> tuple[dict, dict]:
    """The domain check fitted on the ``columns`` (start, stop) block of the pool rows ``X``
    (n_pool, n_features + 1) and the header entries that make the model apply it to the same
    block: (domain, {"domain_columns", "domain_kinds"})."""
    start, stop = columns
    domain = fit_domain(X[:, start:stop], pool.cell_id, valence=pool.valence)
    return domain, {"domain_columns": [int(start), int(stop)], "domain_kinds": list(kinds)}


def train_compact(dataset=None, kinds=None, method=None, residual=None, target=None,
                  split: str = "cell", seed: int = 0, descriptors=None,
                  n_jobs: int = 1, fidelity: str = TRAINING_FIDELITY,
                  ) -> tuple[CompactForwardModel, dict]:
    """Fit on the training part of ``split`` (cell: whole cells held out), score on its test part.

    With no settings (``kinds``, ``method``, ``residual``, ``target`` all None) the default
    model, :data:`DEFAULT_ENSEMBLE`; otherwise one :class:`CompactSpectrum`, unset settings
    from :data:`DEFAULT_SETTINGS`.

    ``fidelity``: the training spectra; default the dataset's own protocol and its screening
    rows (Gamma-only spectra of a v4 dataset: at equal CPU they gave a lower v4 test error,
    docs/forward.md); the test rows are always of the dataset's own protocol.

    ``metrics`` as in :func:`amorphxas.forward.train_forward` (``rmse_total``,
    ``baseline_rmse_total``, ``rmse_by_valence``, ``calibration`` with per-valence coverage, ...)."""
    from amorphxas import __version__
    from amorphxas.forward.metrics import forward_metrics, valence_mean_baseline
    from amorphxas.forward.model import _hash_rows, make_split

    is_default = all(v is None for v in (kinds, method, residual, target))
    if is_default:
        s = default_settings()
    else:
        s = dict(DEFAULT_SETTINGS)
        for k, v in (("kinds", kinds), ("method", method), ("residual", residual), ("target", target)):
            if v is not None:
                s[k] = list(v) if k == "kinds" else v
    X, pool, params = pool_features(dataset, s["kinds"], descriptors, n_jobs, fidelity)
    blocks = _blocks(s["kinds"], params)
    tr, te = make_split(pool, split, seed)
    train_fidelity = {str(k): int(v) for k, v in zip(*np.unique(pool.fidelity[tr],
                                                                 return_counts=True))}
    est = default_estimator(blocks, seed) if is_default else CompactSpectrum(
        method=s["method"], residual=s["residual"], target=s["target"], random_state=seed)
    est.fit(X[tr], pool.Y[tr], groups=pool.cell_id[tr])
    Yp, sd = est.predict(X[te], return_std=True)
    Yt, v = pool.Y[te], pool.valence[te]
    metrics = forward_metrics(Yt, Yp, v, sd)
    metrics["calibration"]["by_valence"] = coverage_by_valence(Yt, Yp, sd, v)
    base = forward_metrics(Yt, valence_mean_baseline(pool.Y[tr], pool.valence[tr], v), v)
    hyper = ({"alpha": est.alpha_} if not is_default else
             {"alpha": [m.alpha_ for m in est.members_], "gamma": [m.gamma_ for m in est.members_]})
    metrics.update({"n_train": int(tr.size), "baseline_rmse_total": base["rmse_total"],
                    "baseline_rmse_by_valence": base["rmse_by_valence"],
                    "ratio_to_baseline": metrics["rmse_total"] / base["rmse_total"],
                    **hyper, "calib_scale": est.calib_scale_, **s, "split": split,
                    "seed": seed, "n_spectra": pool.n_spectra, "n_pool": int(len(pool.cell_id)),
                    "n_cells_train": int(np.unique(pool.cell_id[tr]).size),
                    "n_cells_test": int(np.unique(pool.cell_id[te]).size),
                    "normalisation": pool.normalisation, "dataset": pool.dataset,
                    "train_fidelity": train_fidelity, "test_fidelity": pool.primary_fidelity})
    domain, domain_header = (
        fit_model_domain(X, pool, default_domain_columns(params), DEFAULT_ENSEMBLE["domain_kinds"])
        if is_default else fit_model_domain(X, pool, [0, X.shape[1] - 1], s["kinds"]))
    header = {"amorphxas_version": __version__, "kinds": s["kinds"], "descriptors": params,
              "settings": s, "n_train": int(tr.size), "split": split, "seed": seed,
              "train_fidelity": train_fidelity, **domain_header,
              "normalisation": pool.normalisation, "dataset": pool.dataset,
              "training_sha256": _hash_rows(pool.cell_id[tr], pool.atom_index[tr], pool.Y[tr]),
              "metrics": {k: metrics[k] for k in ("rmse_total", "baseline_rmse_total",
                                                  "ratio_to_baseline", "n_test", "calibration")},
              "choice": "best model of benchmarks/forward/bench_forward_default.py on the cell "
                        "split (docs/forward.md)" if is_default else "user settings",
              "benchmark": BENCHMARK if is_default else None,
              "uncertainty": "each member: valence- and energy-resolved noise from cell-grouped "
                             "out-of-fold errors times (1 + h(x)), scaled to nominal coverage "
                             "(compact.py); ensemble: mean member variance plus the members' "
                             "spread, rescaled on the out-of-fold predictions (ensemble.py)"
                             if is_default else
                             "valence- and energy-resolved noise from cell-grouped out-of-fold "
                             "errors times (1 + h(x)), scaled to nominal coverage (compact.py)"}
    model = CompactForwardModel(estimator=est, domain=domain, energy=np.asarray(pool.energy, float),
                                scale=pool.scale, header=header)
    return model, metrics


def evaluate_default(dataset=None, seeds=(0,), split: str = "cell") -> dict:
    """The default model (what ``amorphxas train forward`` makes) on ``split`` for each seed:
    mean and std over seeds of its ratio to the valence-mean baseline, RMSEs, band coverage."""
    runs = [train_compact(dataset, split=split, seed=int(seed))[1] for seed in seeds]
    ratio = np.array([m["ratio_to_baseline"] for m in runs])
    mean = lambda key: float(np.mean([m[key] for m in runs]))  # noqa: E731
    return {"name": "mean of two kernel ridge models: physical features, residual on the valence "
                    "mean; CHGNet + physical features",
            "split": split, "n_seeds": len(runs), "ratio_mean": float(ratio.mean()),
            "ratio_std": float(ratio.std()), "percent_vs_baseline": 100.0 * (ratio.mean() - 1.0),
            "rmse": mean("rmse_total"), "baseline_rmse": mean("baseline_rmse_total"),
            "n_test": int(min(m["n_test"] for m in runs)),
            "within_1sigma": float(np.mean([m["calibration"]["within_1sigma"] for m in runs])),
            "within_2sigma": float(np.mean([m["calibration"]["within_2sigma"] for m in runs])),
            "train_fidelity": runs[0]["train_fidelity"]}


def predict_structure_compact(model: CompactForwardModel, structure_file) -> dict:
    """Spectra, std and domain flags of every Si of a structure file (model normalisation):
    {"energy", "spectra" (n_Si, n_E), "std", "atom_index", "valence", plus domain_check keys}."""
    from amorphxas.structures.io import read_structure

    atoms = read_structure(structure_file)
    X, index = structure_features(atoms, model.kinds)
    Y, S = model.predict(X, return_std=True)
    out = model.domain_check(X)
    out.update({"energy": model.energy, "spectra": Y, "std": S, "atom_index": index,
                "valence": X[:, -1].astype(int)})
    return out


def write_site_flags(result: dict, out) -> Path:
    """CSV, one row per Si: atom_index, valence, knn_score, outside_domain (0/1)."""
    out = Path(out)
    table = np.column_stack([result["atom_index"], result["valence"], result["knn_score"],
                             result["outside"].astype(int)])
    np.savetxt(out, table, delimiter=",", header="atom_index,valence,knn_score,outside_domain",
               comments="", fmt=["%d", "%d", "%.5g", "%d"])
    return out


def save_compact_training(model: CompactForwardModel, metrics: dict, model_dir) -> Path:
    """MODEL_DIR/model.npz, model.json, metrics.json (as :func:`amorphxas.forward.save_training`)."""
    model_dir = Path(model_dir)
    model.save(model_dir / "model")
    persistence.write_header(model_dir / "metrics.json", metrics, default=float)
    return model_dir


def predict_file(model_dir, structure_file, out, sites_out=None) -> dict:
    """``amorphxas predict``: the spectra CSV (:func:`amorphxas.forward.write_prediction_csv`)
    and, for the compact model, ``sites_out``: one row per Si with its domain flag. Returns the
    domain summary: n_sites, n_outside (n_outside_knn, n_overcoordinated) or, for a study-1
    model, n_outside_leverage / n_outside_mahalanobis."""
    from amorphxas.forward.model import predict_to_csv, write_prediction_csv

    model = load_forward(model_dir)
    if not isinstance(model, CompactForwardModel):
        return predict_to_csv(model, structure_file, out)
    res = predict_structure_compact(model, structure_file)
    write_prediction_csv(res["energy"], res["spectra"], res["std"], res["atom_index"], out)
    if sites_out is not None:
        write_site_flags(res, sites_out)
    out = {k: res[k] for k in ("n_sites", "n_outside", "n_outside_knn", "n_overcoordinated")}
    if "cell_shift" in res:
        out.update({k: res[k] for k in ("cell_shift", "cell_threshold", "cell_outside")})
        if res["cell_outside"]:
            out["cell_warning"] = cell_warning(model, res)
    return out


def cell_warning(model: CompactForwardModel, res: dict) -> str:
    """The one-line warning of a structure whose features shifted as a whole."""
    names = model.header.get("descriptors", {}).get("physical", {}).get("params", {}).get("names")
    j = res["cell_shift_feature"]
    name = names[j] if names and model.header.get("domain_kinds") == ["physical"] else f"feature {j}"
    return (f"warning: the structure as a whole is outside the training cells' feature "
            f"distribution (mean shift of {name} {res['cell_shift_value']:+.1f} site standard deviations, "
            f"training cells reach {res['cell_threshold'] / CELL_MARGIN:.1f}); its spectra are "
            "extrapolated")
