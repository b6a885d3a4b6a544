"""The default forward model against its closest candidates, paired by seed, on the cell split,
training with the dataset's own protocol only or with its screening (Gamma) rows as well.

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/copy.h5
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/forward/bench_forward_default.py /tmp/copy.h5 \
        --seeds 10 -o docs/results/forward_default_paired.json

For every seed (``make_split(pool, "cell", seed)``: whole cells held out, test rows of the
dataset's own protocol, v4) every candidate sees the same test rows and one of two training sets:
``v4+gamma`` (the v4 rows of the training cells and the Gamma rows of the training cells, what
``amorphxas train forward`` uses) and ``v4`` (the v4 rows only). Per candidate and seed: total
RMSE (mean over energies of RMSE(E)), its ratio to the valence-mean baseline of the *v4 training
rows* (one fixed reference per seed, so ratios of both training sets are comparable), 1/2-sigma
coverage per valence. Summary: mean +- std over seeds, and the paired difference to the default
(mean +- std of the per-seed difference of ratios), which is what decides between models.

Candidates (:class:`amorphxas.forward.compact.CompactSpectrum`, hyper-parameters by 5-fold CV by
cell on the training rows only):
  ``krr physical residual`` (the default), ``krr chgnet+physical``, ``ensemble`` (mean of those
  two, variance = mean variance + spread), ``krr physical residual, gamma-weighted`` (Gamma rows
  weighted s2 / (s2 + g2), g = 0.0155 normalised units, the measured Gamma - v4 RMS difference),
  ``krr blocks residual`` (physical and CHGNet side by side, the CHGNet block scaled by a weight
  chosen by the CV error from ``BLOCK_WEIGHTS``, 0 = physical only), ``krr physical residual,
  wide grid`` (length scales 0.25..4, alphas 1e-4..10).
"""

from __future__ import annotations

import argparse
import json
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from amorphxas.forward.compact import CompactSpectrum  # noqa: E402
from amorphxas.forward.ensemble import combine_members  # noqa: E402
from amorphxas.forward.metrics import rmse_energy, valence_mean_baseline  # noqa: E402
from amorphxas.forward.model import load_pool, make_split  # noqa: E402

GAMMA_RMS = 0.0155  # RMS Gamma - v4 difference, normalised units (docs/dataset.md)
BLOCK_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
WIDE = dict(length_scales=(0.25, 0.5, 0.71, 1.0, 1.41, 2.0, 4.0),
            alphas=(1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0))
DEFAULT = "krr physical residual"


class Blocks(CompactSpectrum):
    """CompactSpectrum whose standardised input columns are multiplied by ``weights`` (the
    leading feature columns; a product of RBF kernels with one length scale per block)."""

    weights: np.ndarray | None = None

    def _design(self, F, v):
        Z = super()._design(F, v)
        if self.weights is not None:
            Z = Z.copy()
            Z[:, :len(self.weights)] *= self.weights
        return Z


def fit_blocks(X, Y, groups, n_chg: int, n_phys: int, seed: int, w=None, residual=True):
    """The block-weighted model with the CHGNet weight of lowest CV error; (estimator, weight)."""
    best = None
    for b in BLOCK_WEIGHTS:
        est = Blocks(method="krr", residual=residual, random_state=seed)
        est.weights = np.r_[np.full(n_chg, b), np.ones(n_phys)]
        est.fit(X, Y, groups=groups, sample_weight=w)
        cv = min(est.cv_mse_.values())
        if best is None or cv < best[0]:
            best = (cv, est, b)
    return best[1], best[2]


def candidates(feats, pool, rows, seed, gamma_rows):
    """{name: (P, S)} on the test rows for a model fitted on ``rows``; a generator of closures."""
    Y, g = pool.Y, pool.cell_id
    out = {}

    def krr(feat, residual=True, w=None, **kw):
        est = CompactSpectrum(method="krr", residual=residual, random_state=seed, **kw)
        return est.fit(feats[feat][rows], Y[rows], groups=g[rows], sample_weight=w)

    out[DEFAULT] = krr("physical")
    out["krr chgnet+physical"] = krr("chgnet+physical", residual=False)
    if gamma_rows.any():
        s2 = min(out[DEFAULT].cv_mse_.values())
        w = np.where(gamma_rows, s2 / (s2 + GAMMA_RMS**2), 1.0)
        out["krr physical residual, gamma-weighted"] = krr("physical", w=w)
    n_chg = feats["chgnet+physical"].shape[1] - feats["physical"].shape[1]
    n_phys = feats["physical"].shape[1] - 1
    est, b = fit_blocks(feats["chgnet+physical"][rows], Y[rows], g[rows], n_chg, n_phys, seed)
    est.chosen_weight = b
    out["krr blocks residual"] = est
    out["krr physical residual, wide grid"] = krr("physical", **WIDE)
    out["krr physical"] = krr("physical", residual=False)
    out["krr chgnet"] = krr("chgnet", residual=False)
    return out


FEAT_OF = {DEFAULT: "physical", "krr chgnet+physical": "chgnet+physical",
           "krr physical residual, gamma-weighted": "physical",
           "krr blocks residual": "chgnet+physical", "krr physical residual, wide grid": "physical",
           "krr physical": "physical", "krr chgnet": "chgnet"}

#: ensembles: name -> members (mean of the members' spectra; variance = mean variance + spread)
ENSEMBLES = {"ensemble (default + krr chgnet+physical)": (DEFAULT, "krr chgnet+physical"),
             "ensemble (default + krr physical)": (DEFAULT, "krr physical"),
             "ensemble (default + krr chgnet)": (DEFAULT, "krr chgnet"),
             "ensemble (default + krr physical + krr chgnet+physical)":
                 (DEFAULT, "krr physical", "krr chgnet+physical")}


def ensemble(preds) -> tuple[np.ndarray, np.ndarray]:
    """The shipped ensemble's combination of the members' (spectra, std) pairs."""
    return combine_members([p for p, _ in preds], [s for _, s in preds])


def score(Y, P, S, v, base_rmse) -> dict:
    r = float(rmse_energy(Y, P).mean())
    out = {"rmse": r, "ratio": r / base_rmse}
    if S is not None:
        z = np.abs(Y - P) / np.maximum(S, 1e-300)
        out["cov"] = {str(k): [int(np.sum(z[v == k] <= 1)), int(np.sum(z[v == k] <= 2)),
                               int(z[v == k].size)] for k in range(5) if np.any(v == k)}
    return out


def run_seed(feats, pool, seed, split: str = "cell") -> dict:
    tr, te = make_split(pool, split, seed)
    prim = pool.is_primary[tr]
    Yt, vt = pool.Y[te], pool.valence[te]
    base_v4 = valence_mean_baseline(pool.Y[tr[prim]], pool.valence[tr[prim]], vt)
    base_rmse = float(rmse_energy(Yt, base_v4).mean())
    res = {"seed": seed, "n_test": int(te.size), "test_cells": sorted(set(pool.cell_id[te])),
           "baseline_rmse_v4": base_rmse, "train": {}}
    for tag, rows in (("v4+gamma", tr), ("v4", tr[prim])):
        t0 = time.process_time()
        entry = {"n_train": int(rows.size), "n_gamma": int((~pool.is_primary[rows]).sum())}
        base = valence_mean_baseline(pool.Y[rows], pool.valence[rows], vt)
        entry["valence-mean baseline"] = score(Yt, base, None, vt, base_rmse)
        entry["valence-mean baseline"]["ratio_own_baseline"] = 1.0
        models = candidates(feats, pool, rows, seed, ~pool.is_primary[rows])
        preds = {n: m.predict(feats[FEAT_OF[n]][te], return_std=True) for n, m in models.items()}
        for name, members in ENSEMBLES.items():
            preds[name] = ensemble([preds[m] for m in members])
        own = float(rmse_energy(Yt, base).mean())
        for n, (P, S) in preds.items():
            entry[n] = score(Yt, P, S, vt, base_rmse)
            entry[n]["ratio_own_baseline"] = entry[n]["rmse"] / own
        entry["krr blocks residual"]["chgnet_weight"] = float(models["krr blocks residual"].chosen_weight)
        entry["cpu_s"] = time.process_time() - t0
        res["train"][tag] = entry
    return res


def summarise(seeds: list[dict]) -> dict:
    def stat(a):
        a = np.asarray(a, float)
        return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0}

    out = {}
    for tag in seeds[0]["train"]:
        names = [k for k, v in seeds[0]["train"][tag].items() if isinstance(v, dict)]
        rows = {}
        for n in names:
            r = [s["train"][tag][n]["ratio"] for s in seeds]
            d = [s["train"][tag][n]["ratio"] - s["train"][tag][DEFAULT]["ratio"] for s in seeds]
            row = {"ratio": stat(r), "ratio_own_baseline": stat(
                [s["train"][tag][n].get("ratio_own_baseline", np.nan) for s in seeds]),
                   "rmse": stat([s["train"][tag][n]["rmse"] for s in seeds]),
                   "paired_diff_to_default": stat(d),
                   "n_seeds_better_than_default": int(np.sum(np.asarray(d) < 0))}
            if "cov" in seeds[0]["train"][tag][n]:
                cov = {}
                for k in map(str, range(5)):
                    c = np.sum([s["train"][tag][n]["cov"].get(k, [0, 0, 0]) for s in seeds], axis=0)
                    if c[2]:
                        cov[k] = {"within_1sigma": c[0] / c[2], "within_2sigma": c[1] / c[2],
                                  "n_points": int(c[2])}
                c = np.sum([[s["train"][tag][n]["cov"][k] for k in s["train"][tag][n]["cov"]]
                            for s in seeds], axis=(0, 1))
                cov["all"] = {"within_1sigma": c[0] / c[2], "within_2sigma": c[1] / c[2]}
                row["coverage"] = cov
            rows[n] = row
        out[tag] = {"n_train": stat([s["train"][tag]["n_train"] for s in seeds]),
                    "n_gamma": stat([s["train"][tag]["n_gamma"] for s in seeds]), "candidates": rows}
    # training set effect, paired: (v4+gamma) - (v4) per candidate
    if {"v4+gamma", "v4"} <= set(out):
        out["v4+gamma minus v4"] = {
            n: stat([s["train"]["v4+gamma"][n]["ratio"] - s["train"]["v4"][n]["ratio"] for s in seeds])
            for n in out["v4"]["candidates"] if n in out["v4+gamma"]["candidates"]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a copy of the dataset (the campaign writes the shipped one)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--split", default="cell", choices=("cell", "random"))
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    t0 = time.time()
    pools = {k: load_pool(args.dataset, k, "study1", fidelity="primary+screening")
             for k in ("chgnet", "physical")}
    pool = pools["physical"]
    assert np.array_equal(pools["chgnet"].atom_index, pool.atom_index)
    v = pool.valence.astype(float)
    feats = {"physical": np.column_stack([pool.X_raw, v]),
             "chgnet": np.column_stack([pools["chgnet"].X_raw, v]),
             "chgnet+physical": np.column_stack([pools["chgnet"].X_raw, pool.X_raw, v])}
    fid, cnt = np.unique(pool.fidelity[pool.has_spectrum], return_counts=True)
    result = {"dataset": os.path.basename(args.dataset),
              "n_spectra_by_fidelity": {str(f): int(c) for f, c in zip(fid, cnt)},
              "n_cells": int(np.unique(pool.cell_id[pool.has_spectrum]).size),
              "n_pool": int(pool.cell_id.size), "split": args.split, "test_fidelity": pool.primary_fidelity,
              "command": f"benchmarks/forward/bench_forward_default.py COPY.h5 --seeds {args.seeds}"
                         f" --split {args.split}",
              "per_seed": []}
    for seed in range(args.seeds):
        s = run_seed(feats, pool, seed, args.split)
        result["per_seed"].append(s)
        result["summary"] = summarise(result["per_seed"])
        result["wall_s"] = time.time() - t0
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
        line = ", ".join(f"{n.split(',')[0][:22]}{'*' if ',' in n else ''} {e['ratio']:.3f}"
                         for n, e in s["train"]["v4+gamma"].items() if isinstance(e, dict))
        print(f"seed {seed} ({s['train']['v4+gamma']['cpu_s']:.0f} s): {line}", flush=True)
    for tag, summ in result["summary"].items():
        print(f"\n{tag}:")
        rows = summ if tag.endswith("v4") and "minus" in tag else summ["candidates"]
        for n, r in rows.items():
            if "ratio" in r:
                d = r["paired_diff_to_default"]
                print(f"  {n:45s} {r['ratio']['mean']:.3f} +- {r['ratio']['std']:.3f}  "
                      f"diff {d['mean']:+.4f} +- {d['std']:.4f} ({r['n_seeds_better_than_default']} better)")
            else:
                print(f"  {n:45s} {r['mean']:+.4f} +- {r['std']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
