"""Real-data evaluation of the forward models on whatever a dataset holds (re-run as it grows).

Run by ``amorphxas run`` (figures: :mod:`amorphxas.report.forward_figures`) and by
``benchmarks/forward/bench_forward_evaluate.py`` for a chosen set of descriptors and seeds.

Refuses (one line) below :data:`~amorphxas.forward.model.MIN_SITES` site spectra. For each
descriptor kind, mode (direct, pca, nmf), split (random: study 1's valence-stratified test set;
cell: whole cells held out) and seed: total RMSE, per-valence RMSE, the valence-mean baseline,
calibration of the predictive std; mean and spread over seeds; every number with its site
counts. Learning curves (random split): training sets grown by UR and by random sampling from the
training part, RMSE on the fixed test part, and the smallest size where UR beats random.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from amorphxas.forward.active import select_ur
from amorphxas.forward.metrics import forward_metrics
from amorphxas.forward.model import evaluate_split
from amorphxas.forward.pool import MIN_SITES, Pool, _cache_dir, labelled_rows, load_pool, make_split
from amorphxas.forward.ridge import MODES, ForwardError, RidgeSpectrum
from amorphxas.sites import MAX_VALENCE


def _summary(values) -> dict:
    v = np.asarray([x for x in values if x is not None], float)
    if v.size == 0:
        return {"mean": None, "std": None, "n_seeds": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "n_seeds": int(v.size)}


def table(pool: Pool, modes=MODES, splits=("random", "cell"), seeds=(0, 1, 2)) -> dict:
    """Table II for one descriptor kind: {split: {mode: summary over seeds}} plus per-seed runs."""
    from amorphxas.descriptors import fit_pca

    pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    out: dict = {}
    for split in splits:
        out[split] = {}
        for mode in modes:
            runs = []
            for seed in seeds:
                try:
                    tr, te = make_split(pool, split, seed)
                    model, m = evaluate_split(pool, tr, te, mode, pca=pca, seed=seed)
                except ForwardError as exc:
                    runs.append({"seed": seed, "error": str(exc)})
                    continue
                if mode == "direct" and seed == seeds[0]:
                    m["extremes"] = extremes(pool, te, model.predict(pool.X_raw[te]),
                                             np.asarray(m["rmse_site"]))
                m = {k: v for k, v in m.items() if k not in ("rmse_site",)}
                m["seed"] = seed
                runs.append(m)
            ok = [r for r in runs if "error" not in r]
            out[split][mode] = {
                "rmse_total": _summary(r["rmse_total"] for r in ok),
                "baseline_rmse_total": _summary(r["baseline_rmse_total"] for r in ok),
                "rmse_by_valence": {v: _summary(r["rmse_by_valence"][v] for r in ok)
                                    for v in map(str, range(5))},
                "baseline_rmse_by_valence": {v: _summary(r["baseline_rmse_by_valence"][v] for r in ok)
                                             for v in map(str, range(5))},
                "within_1sigma": _summary(r["calibration"]["within_1sigma"] for r in ok),
                "within_2sigma": _summary(r["calibration"]["within_2sigma"] for r in ok),
                "n_train": [r["n_train"] for r in ok], "n_test": [r["n_test"] for r in ok],
                "runs": runs,
            }
    return out


def extremes(pool: Pool, test_rows, Y_pred, rmse_site) -> dict:
    """Study 1 Fig. 11: per valence, the test sites of smallest and largest RMSE with their true
    and predicted spectra: {valence: {"best"|"worst": {"site", "rmse", "true", "pred"}}}."""
    out: dict = {}
    test_rows = np.asarray(test_rows)
    for v in range(MAX_VALENCE + 1):
        rows = np.flatnonzero(pool.valence[test_rows] == v)
        if rows.size == 0:
            continue
        out[str(v)] = {}
        ranked = rows[np.argsort(rmse_site[rows])]
        for name, k in (("best", ranked[0]), ("worst", ranked[-1])):
            i = test_rows[k]
            out[str(v)][name] = {"site": f"{pool.cell_id[i]}:{int(pool.atom_index[i])}",
                                 "rmse": float(rmse_site[k]), "true": pool.Y[i].tolist(),
                                 "pred": np.asarray(Y_pred[k]).tolist()}
    return out


def learning_curve(pool: Pool, seeds=(0, 1, 2), sizes=None, mode: str = "direct") -> dict:
    """RMSE on the fixed test part vs training size, training grown by UR and by random sampling.

    UR uses the whole pool's summed variance and candidates from the training part; both curves
    use one alpha per seed, the CV choice on the full training part (also used by UR)."""
    from amorphxas.descriptors import fit_pca

    pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    Z = pca.transform(pool.X_raw)
    curves = {"ur": [], "random": []}
    used_sizes = None
    for seed in seeds:
        tr, te = make_split(pool, "random", seed)
        if sizes is None:
            top = tr.size
            sizes_s = sorted({int(s) for s in np.unique(np.geomspace(4, top, 8).round()) if 2 <= s <= top})
        else:
            sizes_s = [s for s in sizes if s <= tr.size]
        used_sizes = sizes_s if used_sizes is None else [s for s in used_sizes if s in sizes_s]
        alpha = RidgeSpectrum(mode=mode, cv=min(5, tr.size), random_state=seed).fit(
            Z[tr], pool.Y[tr]).alpha_
        cand = np.zeros(len(Z), bool)
        cand[tr] = True
        order_ur = np.array(select_ur(Z, np.zeros(len(Z), bool), max(sizes_s), alpha, cand))
        order_ra = np.random.default_rng(seed).permutation(tr)
        for name, order in (("ur", order_ur), ("random", order_ra)):
            row = {}
            for s in sizes_s:
                rows = order[:s]
                est = RidgeSpectrum(mode=mode, alpha=alpha).fit(Z[rows], pool.Y[rows])
                m = forward_metrics(pool.Y[te], est.predict(Z[te]), pool.valence[te])
                row[s] = {"rmse_total": m["rmse_total"], "rmse_energy": m["rmse_energy"],
                          "rmse_by_valence": m["rmse_by_valence"],
                          "valence_counts": np.bincount(pool.valence[rows], minlength=5)[:5].tolist()}
            curves[name].append(row)
    result = {"sizes": used_sizes, "mode": mode, "n_test": int(te.size), "seeds": list(seeds)}
    for name in curves:
        result[name] = {str(s): _summary(c[s]["rmse_total"] for c in curves[name]) for s in used_sizes}
    wins = [s for s in used_sizes if result["ur"][str(s)]["mean"] < result["random"][str(s)]["mean"]]
    result["ur_beats_random_at"] = wins
    last = used_sizes[-1]
    result["delta_rmse_energy_at_largest"] = np.mean(  # Eq. 10, averaged over seeds
        [np.subtract(curves["ur"][k][last]["rmse_energy"], curves["random"][k][last]["rmse_energy"])
         for k in range(len(seeds))], axis=0).tolist()
    result["valence_counts_at_largest"] = {
        name: np.sum([c[last]["valence_counts"] for c in curves[name]], axis=0).tolist()
        for name in curves}
    return result


def evaluate_dataset(dataset=None, kinds=("soap-gto",), preset: str = "fast", modes=MODES,
                     splits=("random", "cell"), seeds=(0, 1, 2), curves: bool = True,
                     n_jobs: int = 1, descriptors_dir=None) -> dict:
    """Everything above for each kind, on a *copy* of ``dataset`` (default: the embedded one).

    Raises ForwardError (one line) if it holds fewer than MIN_SITES site spectra of valence 0..4.
    """
    from amorphxas.dataset import embedded_path, info

    src = Path(dataset) if dataset is not None else embedded_path()
    work = Path(tempfile.mkdtemp(prefix="amorphxas-forward-"))
    copy = work / src.name
    shutil.copy2(src, copy)  # the campaign may be writing the original
    summary = info(copy)
    report = {"dataset": str(src), "n_spectra": summary["n_sites"],
              "n_spectra_by_valence": summary["by_valence"],
              "n_spectra_by_composition": summary["by_composition"],
              "n_si_sites": summary["n_si_sites_analysed"], "n_cells": summary["n_cells"],
              "preset": preset, "seeds": list(seeds), "kinds": {}}
    n_usable = sum(summary["by_valence"][str(v)] for v in range(MAX_VALENCE + 1))
    if n_usable < MIN_SITES:
        raise ForwardError(f"{src}: {n_usable} site spectra of Si0..Si4+ (of "
                           f"{summary['n_si_sites_analysed']} Si sites); the forward evaluation "
                           f"needs at least {MIN_SITES}")
    for kind in kinds:
        t0 = time.perf_counter()
        # descriptors are cached (default ~/.cache/amorphxas) and recomputed only when the sites change
        cache = Path(descriptors_dir) if descriptors_dir is not None else _cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        sidecar = cache / f"{copy.stem}.{preset}.descriptors.h5"
        pool = load_pool(copy, kind, preset, sidecar, n_jobs)
        entry = {"n_labelled": int(labelled_rows(pool).size), "n_pool": int(len(pool.cell_id)),
                 "n_cells_with_spectra": int(np.unique(pool.cell_id[pool.has_spectrum]).size),
                 "normalisation": pool.normalisation, "scale": pool.scale,
                 "descriptor_dim": int(pool.X_raw.shape[1])}
        entry["table"] = table(pool, modes, splits, seeds)
        if curves:
            try:
                entry["learning_curve"] = learning_curve(pool, seeds)
            except ForwardError as exc:
                entry["learning_curve"] = {"error": str(exc)}
        entry["seconds"] = time.perf_counter() - t0
        report["kinds"][kind] = entry
    shutil.rmtree(work, ignore_errors=True)
    return report


def ur_map(dataset=None, kind: str = "soap-gto", preset: str = "fast", n: int = 40,
           alpha: float = 1.0, seed: int = 0) -> dict:
    """Study 1 Fig. 7 without spectra: the first ``n`` UR picks vs ``n`` random picks over the
    dataset's pool (every Si site, valence 0..4 candidates), on the first two descriptor PCs, and
    their valence counts. Needs no spectra; uses a copy of the dataset. For the figure
    (:func:`amorphxas.report.forward_figures.plot_ur_map`) the result also holds ``pc``
    (n_pool, 2), ``valence`` (n_pool,), ``ur_rows``/``random_rows`` (n,) and
    ``explained_variance_ratio``."""
    from amorphxas.dataset import embedded_path
    from amorphxas.descriptors import fit_pca
    from amorphxas.forward.active import select_random

    src = Path(dataset) if dataset is not None else embedded_path()
    work = Path(tempfile.mkdtemp(prefix="amorphxas-urmap-"))
    copy = work / src.name
    shutil.copy2(src, copy)
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    pool = load_pool(copy, kind, preset, cache / f"{copy.stem}.{preset}.descriptors.h5")
    pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    Z = pca.transform(pool.X_raw)
    cand = pool.valence <= MAX_VALENCE
    ur = select_ur(Z, pool.has_spectrum, n, alpha, cand)
    ra = select_random(pool.has_spectrum, n, seed, cand)
    counts = {name: np.bincount(pool.valence[idx], minlength=5)[:5].tolist()
              for name, idx in (("ur", ur), ("random", ra))}
    counts["pool"] = np.bincount(pool.valence[cand], minlength=5)[:5].tolist()
    result = {"kind": kind, "preset": preset, "n_pool": int(len(Z)), "n_candidates": int(cand.sum()),
              "n_descriptor_pcs": int(pca.n_components), "alpha": alpha, "n": n,
              "valence_counts": counts, "n_spectra": pool.n_spectra}
    result.update(pc=Z[:, :2], valence=pool.valence, ur_rows=np.asarray(ur), random_rows=np.asarray(ra),
                  explained_variance_ratio=list(pca.explained_variance_ratio[:2]))
    shutil.rmtree(work, ignore_errors=True)
    return result
