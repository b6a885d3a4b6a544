"""Training, evaluation and inversion on a dataset: splits, CV, windows, averaged spectra.

Targets per Si site with a spectrum: ``valence`` (number of O neighbours, 0-4), ``charge``
(Bader charge, only the sites where it was computed) and ``rdf`` (g_i(R), 256 points).
Every result states the number of sites and cells it rests on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.core.splits import MIN_SITES_INVERSE, MIN_TEST_SITES, split_cells, split_sites
from amorphxas.dataset import Dataset, embedded_path
from amorphxas.inverse.nn import ESTIMATORS, check_X, default_bounds
from amorphxas.inverse.preprocess import (
    BANDS,
    FULL_WINDOW,
    SUB_WINDOWS,
    ensemble_average,
    preprocess,
    preprocess_rows,
)

MIN_SITES = MIN_SITES_INVERSE  # fewer site spectra with the target: refuse to train/evaluate
MIN_TEST = MIN_TEST_SITES
TARGETS = ("valence", "charge", "rdf")
DEFAULT_CV_GRID = {"weight_decay": [0.0, 1e-4]}


class InverseDataError(AmorphxasError):
    """The dataset holds too few (or unusable) sites for this target."""


@dataclass
class InverseData:
    """Preprocessed spectra (n, 256) on COMMON_GRID, raw spectra and the targets of their sites."""

    X: np.ndarray
    raw: np.ndarray  # (n, m) aligned, un-normalised, on ``energy``
    energy: np.ndarray
    y: np.ndarray  # (n,) or (n, 256)
    cell_id: np.ndarray
    atom_index: np.ndarray
    valence: np.ndarray
    rdf_r: np.ndarray
    target: str
    source: str

    @property
    def n_sites(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_cells(self) -> int:
        return len(set(self.cell_id.tolist()))


def load_inverse_data(dataset: str | Path | None = None, target: str = "valence") -> InverseData:
    """Join the spectra with their sites' targets; refuses (one line) below ``MIN_SITES``."""
    if target not in TARGETS:
        raise InverseDataError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    data = Dataset.open(dataset if dataset is not None else embedded_path())  # one open
    path, sites, spectra = data.path, data.sites, data.spectra()
    rows = data.site_rows(spectra)
    usable = rows >= 0
    if target == "charge":
        usable &= np.isfinite(sites.bader_charge[np.maximum(rows, 0)])
    keep, site_rows = np.flatnonzero(usable), rows[usable]
    n = keep.size
    if n < MIN_SITES:
        hint = (f" (Bader charges exist for the sites of {np.unique(spectra.cell_id[keep]).size} "
                "computed cells only: `amorphxas compute --bader` adds the rest)"
                if target == "charge" else "")
        raise InverseDataError(
            f"{path}: {n} site spectra with a {target} target; at least {MIN_SITES} are needed to "
            f"train and test{hint}; the DFT campaign adds more, re-run then")
    raw = spectra.intensity[keep]
    X = preprocess_rows(spectra.energy, raw)
    y = {"valence": sites.valence[site_rows].astype(float),
         "charge": sites.bader_charge[site_rows].astype(float),
         "rdf": sites.rdf[site_rows].astype(float)}[target]
    return InverseData(X=X, raw=raw, energy=spectra.energy, y=y, cell_id=spectra.cell_id[keep],
                       atom_index=spectra.atom_index[keep], valence=sites.valence[site_rows],
                       rdf_r=sites.rdf_r, target=target, source=str(path))


def split_indices(n: int, cell_id=None, split: str = "random", seed: int = 0,
                  test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices (both sorted): 'random' over sites (study 2, 80/20, at least MIN_TEST
    test sites) or 'cell' (no cell on both sides); :mod:`amorphxas.core.splits`."""
    if split == "random":
        return split_sites(n, seed, test_fraction, min_test=MIN_TEST)
    if split == "cell":
        return split_cells(cell_id, seed, test_fraction, shuffle_train=False, error=InverseDataError)
    raise InverseDataError(f"unknown split {split!r}; choose 'random' or 'cell'")


def rmse_r2(y_true, y_pred) -> tuple[float, float]:
    """RMSE and R^2 over all values (for RDFs: R^2 against the per-bin mean)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    rmse = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
    ss_tot = float(np.sum((y_true - y_true.mean(axis=0)) ** 2))
    r2 = 1.0 - float(np.sum((y_true - y_pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    return rmse, r2


def _score(target, y_true, y_pred) -> dict:
    rmse, r2 = rmse_r2(y_true, y_pred)
    out = {"rmse": rmse, "r2": r2}
    if target == "rdf":
        per_site = np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2, axis=1))
        out["per_site_rmse_sorted"] = np.sort(per_site).round(4).tolist()
        out["per_site_rmse_median"] = float(np.median(per_site))
    return out


def cross_validate(target: str, X, y, grid: dict, n_folds: int = 5, seed: int = 0,
                   **params) -> tuple[dict, list]:
    """K-fold CV (one ensemble member per fit) over the product of ``grid``; lowest RMSE wins."""
    import itertools

    keys = sorted(grid)
    candidates = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    if len(candidates) <= 1:
        return (candidates[0] if candidates else {}), []
    n = len(X)
    n_folds = max(2, min(n_folds, n // 2))
    folds = np.array_split(np.random.default_rng(seed).permutation(n), n_folds)
    table = []
    for cand in candidates:
        errs = []
        for f in range(n_folds):
            test = folds[f]
            train = np.concatenate([folds[g] for g in range(n_folds) if g != f])
            est = ESTIMATORS[target](**{**params, **cand, "n_members": 1, "seed": seed,
                                        "fit_baseline": False}).fit(X[train], y[train])
            errs.append(rmse_r2(y[test], est.predict(X[test]))[0])
        table.append({**cand, "cv_rmse": float(np.mean(errs))})
    best = min(table, key=lambda row: row["cv_rmse"])
    return {k: best[k] for k in keys}, table


def train_inverse(dataset=None, target: str = "valence", window=None, split: str = "random",
                  seed: int = 0, cv_grid: dict | None = None, cv_folds: int = 5,
                  data: InverseData | None = None, **params):
    """Train one ensemble on the train part of ``split``, evaluate on the test part.

    ``dataset``: path (default: the embedded dataset); ``window``: (e_min, e_max) eV or None for
    1830-1880 eV; ``cv_grid``: hyper-parameter grid for ``cv_folds``-fold CV on the training part
    (None: ``DEFAULT_CV_GRID``; {}: no CV); ``params``: estimator hyper-parameters.
    Returns (model, metrics) with JSON-serialisable metrics: rmse, r2, n_train, n_test, n_sites,
    n_cells, constant_rmse (train-mean predictor), and for scalar targets baseline_rmse (linear
    heuristic), baseline_edge_rmse (monotone edge fit), parity data.
    """
    data = data if data is not None else load_inverse_data(dataset, target)
    if data.target != target:
        raise InverseDataError(f"data were loaded for target {data.target!r}, not {target!r}")
    train, test = split_indices(data.n_sites, data.cell_id, split, seed)
    if test.size < MIN_TEST or train.size < MIN_SITES - MIN_TEST:
        raise InverseDataError(f"split {split!r} leaves {train.size} train / {test.size} test sites")
    grid = DEFAULT_CV_GRID if cv_grid is None else cv_grid
    params.setdefault("bounds", default_bounds(target, data.y[train]))  # physical range
    t0 = time.perf_counter()
    best, cv_table = cross_validate(target, data.X[train], data.y[train], grid, cv_folds, seed,
                                    window=window, **params)
    model = ESTIMATORS[target](**{**params, **best, "window": window, "seed": seed})
    model.fit(data.X[train], data.y[train])
    seconds = time.perf_counter() - t0
    pred, std = model.predict(data.X[test], return_std=True)
    y_test = data.y[test]
    const = np.broadcast_to(data.y[train].mean(axis=0), y_test.shape)
    metrics = {
        "target": target, "split": split, "seed": seed,
        "window": list(window) if window is not None else list(FULL_WINDOW),
        "n_sites": data.n_sites, "n_cells": data.n_cells,
        "n_train": int(train.size), "n_test": int(test.size),
        "n_test_cells": len(set(data.cell_id[test].tolist())),
        **_score(target, y_test, pred),
        "constant_rmse": rmse_r2(y_test, const)[0],
        "mean_ensemble_std": float(np.mean(std)),
        "hyper_parameters": {k: (list(v) if isinstance(v, tuple) else v)
                             for k, v in model.get_params().items()},
        "cv": cv_table, "epochs": [int(e) for e in model.epochs_],
        "train_seconds": round(seconds, 2), "source": data.source,
    }
    if data.y.ndim == 1:
        base = model.predict_baseline(data.X[test])
        if base:
            metrics["baseline_rmse"], metrics["baseline_r2"] = rmse_r2(y_test, base["linear"])
            metrics["baseline_edge_rmse"], metrics["baseline_edge_r2"] = rmse_r2(y_test, base["edge"])
        train_pred = model.predict(data.X[train])
        metrics["parity"] = {"test_true": y_test.tolist(), "test_pred": pred.round(4).tolist(),
                             "test_std": std.round(4).tolist(),
                             "test_valence": data.valence[test].tolist(),
                             "train_true": data.y[train].tolist(),
                             "train_pred": train_pred.round(4).tolist()}
    else:
        k = np.argsort(np.sqrt(np.mean((y_test - pred) ** 2, axis=1)))
        pick = k[np.linspace(0, k.size - 1, min(6, k.size)).astype(int)]
        metrics["rdf_examples"] = {"r": data.rdf_r.tolist(),
                                   "true": y_test[pick].round(4).tolist(),
                                   "pred": pred[pick].round(4).tolist(),
                                   "std": std[pick].round(4).tolist()}
    model.split_ = {"train": train, "test": test}
    return model, metrics


def window_analysis(dataset=None, target: str = "valence", split: str = "random", seed: int = 0,
                    windows: dict | None = None, data: InverseData | None = None, **params) -> list:
    """Retrain on each window (default: the eight 6.25 eV sub-windows a-h, the 25 eV low/high
    bands and the full range) on the same split; one row per window with rmse, r2, n points."""
    data = data if data is not None else load_inverse_data(dataset, target)
    windows = windows if windows is not None else {**SUB_WINDOWS, **BANDS, "full": FULL_WINDOW}
    cv_grid = params.pop("cv_grid", {})
    rows = []
    for name, window in windows.items():
        _, m = train_inverse(target=target, window=tuple(window), split=split, seed=seed,
                             data=data, cv_grid=cv_grid, **params)
        rows.append({"window": name, "e_min": float(window[0]), "e_max": float(window[1]),
                     "n_points": int(((COMMON_GRID >= window[0] - 1e-9)
                                      & (COMMON_GRID <= window[1] + 1e-9)).sum()),
                     "rmse": m["rmse"], "r2": m["r2"], "n_train": m["n_train"],
                     "n_test": m["n_test"], "train_seconds": m["train_seconds"],
                     **({"per_site_rmse_sorted": m["per_site_rmse_sorted"]} if target == "rdf" else {})})
    return rows


def evaluate_averaged(model, data: InverseData, cells=None) -> dict:
    """Cell-averaged spectra (mean of the raw site spectra, then normalised) -> predicted mean
    valence/charge or mean RDF, against the mean of the same sites' targets.

    ``cells``: restrict to these cells (e.g. the test cells of a cell split), default all.
    """
    cell_ids, mean_raw, counts = ensemble_average(data.cell_id, data.raw)
    if cells is not None:
        keep = np.isin(cell_ids, list(cells))
        cell_ids, mean_raw, counts = cell_ids[keep], mean_raw[keep], counts[keep]
    if cell_ids.size == 0:
        raise InverseDataError("averaged spectra: no cells to evaluate")
    X = np.stack([preprocess(data.energy, row) for row in mean_raw])
    pred, std = model.predict(X, return_std=True)
    truth = np.stack([data.y[data.cell_id == c].mean(axis=0) for c in cell_ids])
    rows = []
    for k, c in enumerate(cell_ids):
        row = {"cell_id": str(c), "n_sites": int(counts[k])}
        if truth.ndim == 1:
            row.update(true=float(truth[k]), pred=float(pred[k]), std=float(std[k]))
        else:
            row["rmse"] = float(np.sqrt(np.mean((truth[k] - pred[k]) ** 2)))
        rows.append(row)
    rmse, r2 = rmse_r2(truth, pred)
    out = {"n_cells": int(cell_ids.size), "n_sites": int(counts.sum()), "rmse": rmse,
           "r2": r2 if cell_ids.size > 1 else float("nan"), "cells": rows}
    if truth.ndim == 1 and model.baselines_:
        base = model.predict_baseline(X)
        out["baseline_rmse"] = rmse_r2(truth, base["linear"])[0]
        out["baseline_edge_rmse"] = rmse_r2(truth, base["edge"])[0]
    if getattr(model, "fractions_", None) is not None:
        fractions, classes = model.predict_fractions(X)
        true_fractions = np.stack([[np.mean(data.y[data.cell_id == c] == n) for n in classes]
                                   for c in cell_ids])
        out["lcf_rmse"] = rmse_r2(truth, fractions @ classes)[0]
        out["lcf_fraction_rmse"] = float(np.sqrt(np.mean((fractions - true_fractions) ** 2)))
        for row, f, t in zip(rows, fractions, true_fractions):
            row["fractions"] = {f"Si{n}+": float(v) for n, v in zip(classes, f)}
            row["true_fractions"] = {f"Si{n}+": float(v) for n, v in zip(classes, t)}
    return out


def invert_spectrum(model, energy, intensity, energy_shift: float = 0.0) -> dict:
    """Predict from one measured-like spectrum on any grid (see :func:`preprocess`).

    Returns {'target', 'value' (float or list of 256), 'std', 'r' (RDF only), 'baseline'
    (scalar targets: linear and edge heuristics), 'normalised_spectrum'}; valence models also
    'valence_fractions' {'Si0+': f, ...} and 'lcf_mean_valence' (linear-combination fit).
    """
    window = getattr(model, "window", None)
    x = preprocess(energy, intensity, COMMON_GRID, window=window, energy_shift=energy_shift)
    X = check_X(x)
    mean, std = model.predict(X, return_std=True)
    out = {"target": model.target_name, "window": list(window) if window else list(FULL_WINDOW),
           "n_members": len(model.members_), "normalised_spectrum": x.tolist()}
    if model.scalar_:
        out.update(value=float(mean[0]), std=float(std[0]))
        base = model.predict_baseline(X)
        out["baseline"] = {k: float(v[0]) for k, v in base.items()}
    else:
        out.update(value=mean[0].tolist(), std=std[0].tolist(),
                   r=np.linspace(0.0, 5.0, mean.shape[1]).tolist())
    if getattr(model, "fractions_", None) is not None:
        fractions, classes = model.predict_fractions(X)
        out["valence_fractions"] = {f"Si{n}+": float(v) for n, v in zip(classes, fractions[0])}
        out["lcf_mean_valence"] = float(fractions[0] @ classes)
    return out


def evaluate_dataset(dataset=None, targets=("valence", "charge", "rdf"), seed: int = 0,
                     windows: bool = True, **params) -> dict:
    """The real-data evaluation: every target x both splits, averaged spectra, window tables.

    Runs on whatever the dataset holds; a target with too few sites is reported as refused
    (with the reason) instead of failing the whole evaluation.
    """
    report: dict = {"dataset": str(dataset or embedded_path()), "seed": seed, "targets": {}}
    for target in targets:
        try:
            data = load_inverse_data(dataset, target)
        except AmorphxasError as exc:
            report["targets"][target] = {"refused": str(exc)}
            continue
        entry: dict = {"n_sites": data.n_sites, "n_cells": data.n_cells}
        for split in ("random", "cell"):
            try:
                model, metrics = train_inverse(target=target, split=split, seed=seed, data=data,
                                               **params)
            except AmorphxasError as exc:
                entry[split] = {"refused": str(exc)}
                continue
            test_cells = sorted(set(data.cell_id[model.split_["test"]].tolist()))
            metrics["averaged_all_cells"] = evaluate_averaged(model, data)
            if split == "cell":
                metrics["averaged_test_cells"] = evaluate_averaged(model, data, cells=test_cells)
            entry[split] = metrics
        if windows and target in ("valence", "charge", "rdf"):
            try:
                entry["windows"] = window_analysis(target=target, split="random", seed=seed,
                                                   data=data, **params)
            except AmorphxasError as exc:
                entry["windows"] = {"refused": str(exc)}
        report["targets"][target] = entry
    return report
