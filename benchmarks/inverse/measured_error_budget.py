"""Where the error of the measured-spectrum LCF comes from, on held-out cells (error budget).

Works on the normalised real DFT site spectra (one common edge step, the standards' convention),
on the theory energy scale (calibrated: no shift fitted), within the LCF window, so that it
isolates the composition side of the problem from the beamline perturbations (measured
separately by ``bench_measured_inversion.py``, where slope, noise and a referenced shift change
the result by < 0.01 in mean valence). Cells are split into 6 folds; standards come from the
other folds only.

Held-out samples are convex combinations of held-out site spectra (named as such, not synthetic
spectra): fractions w ~ Dirichlet(1) over the valences present in the fold, and for each valence
the mean of ``k`` randomly drawn held-out sites of that valence (k = 1, 2, 4, or all of the fold's
sites of that valence, the benchmark's "valence mixtures"), plus each held-out cell's own average.

Estimators compared (all on the same fit points, constant + line background):

- ``nnls``: the LCF of ``amorphxas invert`` (non-negative weights on the training per-valence means);
- ``oracle``: the same LCF with the held-out fold's own per-valence means as standards: what is
  left is the site-to-site spread inside the sample (k sites) only, no train->test transfer;
- ``gls``: :func:`amorphxas.measured.lcf.fit_lcf` weighted by the residual covariance
  sum_n f_n^2 C_n + noise^2 (C_n the training sites' covariance per valence, shrunk), no prior;
- ``gls+mv``: the same with the mean-valence prior of the linear functional (what
  ``amorphxas invert`` does);
- ``linear-mv``: the linear functional alone (:mod:`amorphxas.measured.linear_mv`, ridge trained
  on convex combinations of training-cell site spectra, strength chosen on held-out training cells);
- ``invert``: what ``amorphxas invert`` reports by default: the functional's mean valence and the
  fractions functional (:mod:`amorphxas.measured.linear_fractions`) read on the spectrum after the
  LCF's background and edge-step ratio are removed, projected onto the simplex with that mean;
- ``linear-fractions``: the fractions functional read on the normalised spectrum itself,
  projected with ``linear-mv``'s mean valence.

Stated intervals (``gls``/``gls+mv``, no bootstrap): coverage of the 68 % / 95 % intervals.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/inverse/measured_error_budget.py \\
        --dataset /tmp/copy.h5 --out docs/figures/measured_error_budget.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from amorphxas.dataset import embedded_path, load_sites, load_spectra
from amorphxas.dataset.loader import spectrum_site_rows
from amorphxas.measured.lcf import FIT_WINDOW, fit_lcf, solve
from amorphxas.measured.linear_fractions import train_linear_fractions
from amorphxas.measured.linear_mv import train_linear_valence
from amorphxas.measured.standards import normalise_rows

KS = (1, 2, 4, 8, 0)  # sites per valence in a mixture; 0 = all of the fold's sites of that valence
METHODS = ("nnls", "oracle", "gls", "gls+mv", "linear-mv", "invert", "linear-fractions")
V = np.arange(5)


def background(e: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(e), (e - 1855.0) / 25.0])


def lcf(y: np.ndarray, S: np.ndarray, B: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    """Fractions (5,) of y (n,) with standards S (5, n), background B (n, 2); W: whitening (n, n)."""
    A = np.hstack([S.T, B])
    if W is not None:
        A, y = W @ A, W @ y
    p = solve(A, y, S.shape[0])
    g = np.clip(p[:S.shape[0]], 0, None)
    return g / g.sum() if g.sum() > 0 else np.full(S.shape[0], 0.2)


def run(dataset: Path, mixtures: int, seed: int, n_folds: int = 6) -> dict:
    sites, spectra = load_sites(dataset), load_spectra(dataset)
    rows = spectrum_site_rows(sites, spectra)
    val_all, cell_all = sites.valence[rows], spectra.cell_id
    grid = np.asarray(spectra.energy, float)
    full_all, _ = normalise_rows(grid, spectra.intensity)
    inside = (grid >= FIT_WINDOW[0]) & (grid <= FIT_WINDOW[1])
    e = grid[inside]
    norm_all = full_all[:, inside]
    B = background(e)
    cells = sorted(set(cell_all.tolist()))
    folds = [cells[i::n_folds] for i in range(n_folds)]
    rng = np.random.default_rng(seed)
    recs = []
    for fold in folds:
        held = np.isin(cell_all, fold)
        tr_v, tr_c = val_all[~held], cell_all[~held]
        S = np.stack([norm_all[~held][tr_v == v].mean(0) for v in V])
        S_full = np.stack([full_all[~held][tr_v == v].mean(0) for v in V])
        tr_sites = [full_all[~held][tr_v == v] for v in V]
        tr_cells = [tr_c[tr_v == v] for v in V]
        linear = train_linear_valence(grid, tr_sites, tr_cells, e, seed=seed)
        lin_f = train_linear_fractions(grid, tr_sites, tr_cells, e, seed=seed)
        h_n, h_full, h_v, h_c = norm_all[held], full_all[held], val_all[held], cell_all[held]
        present = [v for v in V if np.any(h_v == v)]
        oracle_S = np.stack([h_n[h_v == v].mean(0) if v in present else S[v] for v in V])
        samples = []
        for k in KS:
            for _ in range(mixtures):
                w = np.zeros(5)
                w[present] = rng.dirichlet(np.ones(len(present)))
                comp = []
                for v in present:
                    pool = np.flatnonzero(h_v == v)
                    pick = pool if k == 0 else rng.choice(pool, min(k, len(pool)), replace=False)
                    comp.append(w[v] * h_full[pick].mean(0))
                samples.append((f"k={k or 'all'}", sum(comp), w))
        for c in fold:
            m = h_c == c
            truth = np.array([np.mean(h_v[m] == v) for v in V])
            samples.append(("cell average", h_full[m].mean(0), truth))
        for kind, y_full, truth in samples:
            yv = y_full[inside]
            rec = {"kind": kind, "truth": truth.tolist(), "true_mv": float(truth @ V),
                   "nnls": lcf(yv, S, B), "oracle": lcf(yv, oracle_S, B)}
            for name, kw in (("gls", {}), ("gls+mv", {"linear": linear}),
                             ("invert", {"linear": linear, "constrain_mean_valence": False,
                                         "fractions_linear": lin_f})):
                fit = fit_lcf(grid, y_full, S_full, grid, tr_sites, shift_prior=None, n_boot=0, **kw)
                mv, mv_std = fit.mean_valence()
                frac, fstd = fit.fractions, fit.fractions_std
                if name == "invert":
                    frac = fit.fractions_linear
                    fstd = np.sqrt(np.clip(np.diag(fit.fractions_linear_cov), 0, None))
                rec[name] = {"fractions": frac.round(4).tolist(), "mv": mv, "mv_std": mv_std,
                             "fractions_std": fstd.round(4).tolist()}
            for name in ("nnls", "oracle"):
                rec[name] = {"fractions": rec[name].round(4).tolist(), "mv": float(rec[name] @ V)}
            rec["linear-mv"] = {"mv": linear.predict(yv), "mv_std": linear.std, "alpha": linear.alpha}
            rec["linear-fractions"] = {"fractions": lin_f.predict(yv, rec["linear-mv"]["mv"]).round(4).tolist(),
                                       "mv": rec["linear-mv"]["mv"]}
            recs.append(rec)
    return {"records": recs}


def summarise(recs: list[dict]) -> dict:
    table = {}
    for kind in sorted(set(r["kind"] for r in recs)):
        rs = [r for r in recs if r["kind"] == kind]
        row = {"n": len(rs)}
        for name in METHODS:
            mv_err = np.array([r[name]["mv"] - r["true_mv"] for r in rs])
            row[name] = {"mean_valence_rmse": float(np.sqrt(np.mean(mv_err ** 2)))}
            if "mv_std" in rs[0][name]:
                std = np.array([r[name]["mv_std"] for r in rs])
                row[name]["mean_valence_coverage_68"] = float(np.mean(np.abs(mv_err) <= std))
                row[name]["mean_valence_coverage_95"] = float(np.mean(np.abs(mv_err) <= 1.96 * std))
            if "fractions" in rs[0][name]:
                ferr = np.array([np.subtract(r[name]["fractions"], r["truth"]) for r in rs])
                row[name]["fractions_rmse_pp"] = float(100 * np.sqrt(np.mean(ferr ** 2)))
            if "fractions_std" in rs[0][name]:
                fstd = np.array([r[name]["fractions_std"] for r in rs])
                row[name]["fractions_coverage_95"] = float(np.mean(np.abs(ferr) <= 1.96 * fstd))
        table[kind] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=None, help="a copy of the dataset")
    parser.add_argument("--mixtures", type=int, default=40, help="mixtures per fold and k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=6, help="cell folds (2: larger held-out pools)")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/measured_error_budget.json"))
    args = parser.parse_args()
    dataset = args.dataset or embedded_path()
    t0 = time.perf_counter()
    res = run(dataset, args.mixtures, args.seed, args.folds)
    summary = summarise(res["records"])
    report = {"benchmark": "benchmarks/inverse/measured_error_budget.py", "dataset": str(dataset),
              "n_site_spectra": int(load_spectra(dataset).intensity.shape[0]), "folds": args.folds,
              "mixtures_per_fold_and_k": args.mixtures, "seed": args.seed, "summary": summary,
              "seconds": round(time.perf_counter() - t0, 1), "records": res["records"]}
    args.out.write_text(json.dumps(report, indent=1))
    for kind, row in summary.items():
        cells = "  ".join(f"{m}: MV {row[m]['mean_valence_rmse']:.3f}"
                          + (f" fr {row[m]['fractions_rmse_pp']:.1f} pp" if "fractions_rmse_pp" in row[m]
                             else "") for m in METHODS)
        print(f"{kind:13s} n {row['n']:4d}  {cells}")


if __name__ == "__main__":
    main()
