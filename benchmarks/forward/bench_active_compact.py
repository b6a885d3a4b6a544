"""Simulated active learning with the default forward model on the real pool of computed sites.

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/al_copy.h5
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/forward/bench_active_compact.py \\
        /tmp/al_copy.h5 --seeds 5 --strategies ur random -o docs/figures/forward_active_compact.json

For each seed: whole cells are held out as the test set (the forward benchmark's cell split,
:func:`amorphxas.forward.model.make_split`); the candidates are the computed sites of the training
cells (their spectra are revealed only when a site is picked). Every strategy starts from the
same stratified seed set (``--init`` sites, round robin over valences) and adds ``--batch`` sites
at a time until the candidates run out; after every batch the model is refitted and scored on
the test cells: total RMSE (mean over energies of RMSE(E)) and its ratio to the valence-mean
spectrum of the same training rows.

``--model ensemble`` (default) is the model and UR engine of ``amorphxas select``: the default
forward ensemble (:func:`amorphxas.forward.compact_model.fit_default_estimator`, the mean of
kernel ridge on the 24 physical features, residual on the valence mean, and kernel ridge on
CHGNet + physical features; hyper-parameters by CV by cell at every size) with
:func:`amorphxas.forward.active.posterior_engine` (:class:`~amorphxas.forward.active.EnsemblePosteriorUR`).
``--model single`` is the ensemble's first member alone
(:class:`~amorphxas.forward.compact.CompactSpectrum`, :class:`~amorphxas.forward.active.PosteriorUR`;
hyper-parameters by 5-fold CV by cell at every size, or once on the seed set with
``--hyper initial``).

Strategies: ``ur`` (greedy total-variance reduction on the model's label-free posterior;
the summed variance runs over every Si of the
training cells, computed or not: the test cells are never looked at), ``ur-stratified`` (the
same inside valence classes, what ``amorphxas select`` gives the campaign), ``random`` and
``stratified`` (random within valences, least-filled class first). Paired differences (UR minus
random, same seed and size) with their std over seeds say where UR wins.
"""

from __future__ import annotations

import argparse
import json
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from amorphxas.forward.active import (  # noqa: E402
    posterior_engine,
    select_random,
    select_stratified,
    select_ur,
    select_ur_stratified,
)
from amorphxas.forward.compact import CompactSpectrum  # noqa: E402
from amorphxas.forward.compact_model import (  # noqa: E402
    DEFAULT_ENSEMBLE,
    DEFAULT_SETTINGS,
    fit_default_estimator,
)
from amorphxas.forward.metrics import rmse_energy, valence_mean_baseline  # noqa: E402

STRATEGIES = ("ur", "ur-stratified", "random", "stratified")
#: feature kinds of each ``--model`` (pool_features order)
MODEL_KINDS = {"ensemble": tuple(DEFAULT_ENSEMBLE["kinds"]), "single": tuple(DEFAULT_SETTINGS["kinds"])}
MODEL_NAMES = {"ensemble": "default ensemble (compact_model.default_estimator: krr physical residual "
                           "+ krr chgnet+physical direct), EnsemblePosteriorUR",
               "single": "CompactSpectrum(method='krr', residual=True), 24 physical features, PosteriorUR"}


def score(est, X, Y, v, tr, te) -> dict:
    """Test RMSE of the fitted model and its ratio to the valence-mean baseline of ``tr``."""
    r = float(rmse_energy(Y[te], est.predict(X[te])).mean())
    b = float(rmse_energy(Y[te], valence_mean_baseline(Y[tr], v[tr], v[te])).mean())
    return {"rmse": r, "baseline": b, "ratio": r / b}


def fit(X, Y, cells, rows, hyper, seed, model: str = "single", params: dict | None = None):
    """The ``model`` fitted on ``rows`` of (X, Y), CV folds by cell; ``hyper`` (alpha, length
    scale) fixes the single model's hyper-parameters; ``params``: pool_features descriptors."""
    if model == "ensemble":
        return fit_default_estimator(X, Y, cells, rows, params, seed)
    s = DEFAULT_SETTINGS
    kw = {} if hyper is None else {"alpha": hyper[0], "length_scales": (hyper[1],)}
    return CompactSpectrum(method=s["method"], residual=s["residual"], target=s["target"],
                           random_state=seed, **kw).fit(X[rows], Y[rows], groups=cells[rows])


def length_scale_of(est) -> float:
    """The CV-chosen RBF length scale in units of sqrt(n_design) (inverse of gamma)."""
    d = est.z_train_.shape[1]
    return float(1.0 / np.sqrt(2.0 * est.gamma_ * d))


def run_seed(X, pool, seed: int, args, params: dict | None = None) -> dict:
    """One cell split: the learning curve of every strategy."""
    from amorphxas.forward.model import make_split

    tr, te = make_split(pool, "cell", seed)
    train_cells = np.unique(pool.cell_id[tr])
    region = np.flatnonzero(np.isin(pool.cell_id, train_cells))  # every Si of the training cells
    Xr, cells_r, v_r = X[region], pool.cell_id[region], np.clip(pool.valence[region], 0, 4)
    pos = {int(i): k for k, i in enumerate(region)}
    at = np.array([pos[int(i)] for i in tr])  # region row of each training-cell spectrum
    cand = np.zeros(region.size, bool)
    cand[at] = True
    Yr = np.zeros((region.size, pool.Y.shape[1]))
    Yr[at] = pool.Y[tr]
    Xt, Yt, vt = X[te], pool.Y[te], pool.valence[te]
    assert np.array_equal(Xr[at], X[tr])
    XX, YY = np.vstack([Xr, Xt]), np.vstack([Yr, Yt])  # score() indexes train rows then test
    vv = np.concatenate([v_r, vt])
    test_rows = np.arange(region.size, region.size + te.size)
    init = select_stratified(v_r, np.zeros(region.size, bool), args.init, seed, candidate_mask=cand)
    hyper = None
    if args.hyper == "initial":
        e0 = fit(Xr, Yr, cells_r, np.asarray(init), None, seed, args.model, params)
        hyper = (float(e0.alpha_), length_scale_of(e0))
    out = {"seed": seed, "n_candidates": int(cand.sum()), "n_test": int(te.size),
           "n_region_sites": int(region.size), "test_cells": sorted(map(str, np.unique(pool.cell_id[te]))),
           "hyper": hyper, "curves": {}}
    for strategy in args.strategies:
        mask = np.zeros(region.size, bool)
        mask[init] = True
        curve = []
        step = 0
        while True:
            rows = np.flatnonzero(mask)
            est = fit(Xr, Yr, cells_r, rows, hyper, seed, args.model, params)
            curve.append({"n": int(rows.size), **score(est, XX, YY, vv, rows, test_rows)})
            left = cand & ~mask
            if not left.any() or (args.max_size and rows.size >= args.max_size):
                break
            k = min(args.batch, int(left.sum()))
            rng_seed = 1000 * seed + step
            if strategy == "random":
                picks = select_random(mask, k, rng_seed, candidate_mask=cand)
            elif strategy == "stratified":
                picks = select_stratified(v_r, mask, k, rng_seed, candidate_mask=cand)
            else:
                engine = posterior_engine(est, Xr)
                chooser = select_ur if strategy == "ur" else None
                picks = (chooser(None, mask, k, 1.0, cand, engine) if chooser else
                         select_ur_stratified(None, v_r, mask, k, 1.0, cand, engine=engine))
            assert not mask[picks].any() and cand[picks].all()
            mask[picks] = True
            step += 1
        out["curves"][strategy] = curve
    return out


def summarise(runs: list[dict], strategies) -> dict:
    """Per size: mean +- std of RMSE and ratio per strategy; paired UR - random differences."""
    sizes = sorted({p["n"] for r in runs for p in r["curves"][strategies[0]]})
    table = []
    for n in sizes:
        row = {"n": n}
        vals = {}
        for s in strategies:
            pts = [next((p for p in r["curves"][s] if p["n"] == n), None) for r in runs]
            pts = [p for p in pts if p is not None]
            if len(pts) < len(runs):
                continue  # a size that not every seed reaches
            vals[s] = {k: np.array([p[k] for p in pts]) for k in ("rmse", "ratio")}
            row[s] = {k: {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0}
                      for k, a in vals[s].items()}
        if len(vals) < len(strategies):
            continue
        for ur in ("ur", "ur-stratified"):
            for base in ("random", "stratified"):
                if ur in vals and base in vals:
                    d = vals[ur]["ratio"] - vals[base]["ratio"]
                    row[f"{ur}_minus_{base}"] = {
                        "mean": float(d.mean()), "std": float(d.std(ddof=1)) if d.size > 1 else 0.0,
                        "sem": float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0,
                        "wins": int(np.sum(d < 0)), "n_seeds": int(d.size)}
        table.append(row)
    return {"sizes": table}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("dataset", help="a COPY of the dataset (.h5)")
    ap.add_argument("--seeds", type=int, default=5, help="cell splits / random seeds 0..N-1")
    ap.add_argument("--init", type=int, default=10, help="stratified seed set size")
    ap.add_argument("--batch", type=int, default=5, help="sites added per step")
    ap.add_argument("--max-size", type=int, default=0, help="stop at this training size (0: all)")
    ap.add_argument("--hyper", choices=("refit", "initial"), default="refit",
                    help="KRR hyper-parameters by CV at every size, or once on the seed set")
    ap.add_argument("--model", choices=tuple(MODEL_KINDS), default="ensemble",
                    help="the default ensemble of amorphxas select, or its first member alone")
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("-o", "--output", default="docs/figures/forward_active_compact.json")
    args = ap.parse_args(argv)
    if args.hyper == "initial" and args.model != "single":
        ap.error("--hyper initial needs --model single (the ensemble refits its members by CV)")

    from amorphxas.forward.compact_model import pool_features

    t0 = time.time()
    X, pool, params = pool_features(args.dataset, MODEL_KINDS[args.model])
    runs = []
    for seed in range(args.seeds):
        t = time.time()
        runs.append(run_seed(X, pool, seed, args, params))
        print(f"seed {seed}: {runs[-1]['n_candidates']} candidates, {runs[-1]['n_test']} test sites, "
              f"{time.time() - t:.0f} s", flush=True)
    summary = summarise(runs, args.strategies)
    for row in summary["sizes"]:
        cols = "  ".join(f"{s} {row[s]['ratio']['mean']:.3f}±{row[s]['ratio']['std']:.3f}"
                         for s in args.strategies)
        d = row.get("ur_minus_random")
        print(f"n={row['n']:3d}  {cols}" + (f"  ur-random {d['mean']:+.3f}±{d['std']:.3f} "
                                             f"({d['wins']}/{d['n_seeds']})" if d else ""))
    result = {"dataset": os.path.abspath(args.dataset), "n_spectra": int(pool.n_spectra),
              "n_cells": int(np.unique(pool.cell_id[pool.has_spectrum]).size),
              "n_pool": int(len(pool.cell_id)), "model": MODEL_NAMES[args.model], "split": "cell",
              "args": vars(args), "summary": summary,
              "runs": runs, "seconds": time.time() - t0}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    from amorphxas.core.files import atomic_path

    with atomic_path(args.output) as tmp:
        with open(tmp, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
    print(f"-> {args.output} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
