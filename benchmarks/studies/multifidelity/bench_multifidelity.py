"""Equal CPU time: does training on cheap Gamma-point spectra beat fewer production-v4 spectra?

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/copy.h5
    .venv/bin/amorphxas dataset reevaluate /tmp/copy.h5 /tmp/gamma.h5 \
        --preset production-v4 --to-preset screening-gamma
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/studies/multifidelity/bench_multifidelity.py \
        /tmp/copy.h5 \
        /tmp/gamma.h5 --seeds 40 -o docs/figures/forward_multifidelity.json

Every v4 site holds its Gamma-point chains, so each site has a (Gamma, v4) pair of real spectra.
Per seed: whole cells are held out (the cell split of ``amorphxas train forward``); the test
labels are always v4. A CPU budget of ``n`` v4 sites (564 s each; a Gamma site costs 234 s) buys,
from the training cells in one random order:

* ``v4``: n v4 spectra;
* ``gamma``: floor(n * 564 / 234) Gamma spectra (~2.4x as many);
* ``half``: n/2 v4 spectra plus the Gamma spectra the other half of the CPU buys;
* ``gamma`` / ``half`` ``weighted``: Gamma rows get the sample weight
  ``s2 / (s2 + g2)``, with ``s2`` the cross-validated squared error of the v4-only model of the
  same budget and ``g2`` the measured mean squared Gamma - v4 difference of the training cells'
  pairs (both from training data only).

The model is the default forward model (``DEFAULT_SETTINGS`` of
:mod:`amorphxas.forward.compact_model`, or ``--kinds/--method``). Reports the test RMSE (mean and
standard error over seeds) and the paired difference to ``v4`` per budget.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from amorphxas.forward.compact import CompactSpectrum  # noqa: E402
from amorphxas.forward.compact_model import DEFAULT_SETTINGS, pool_features  # noqa: E402
from amorphxas.forward.metrics import rmse_energy  # noqa: E402
from amorphxas.forward.model import check_grid, make_split  # noqa: E402

CPU_V4, CPU_GAMMA = 564.0, 234.0  # s per site on one core (docs/dataset.md)


def gamma_labels(gamma_path: str, pool) -> np.ndarray:
    """Gamma spectra in the rows of ``pool``, in the v4 normalisation (divided by pool.scale)."""
    from amorphxas.dataset import load_sites, load_spectra
    from amorphxas.dataset.loader import spectrum_site_rows

    spectra = load_spectra(gamma_path)
    check_grid(spectra.energy, pool.energy, gamma_path)
    rows = spectrum_site_rows(load_sites(gamma_path), spectra)
    Yg = np.full_like(pool.Y, np.nan)
    Yg[rows[rows >= 0]] = spectra.intensity[rows >= 0] / pool.scale
    return Yg


def _fit_predict(X, Y, groups, w, te, kw, seed):
    est = CompactSpectrum(random_state=seed, calibrate=False, **kw)
    est.fit(X, Y, groups=groups, sample_weight=w)
    return est.predict(te), est


def run(X, pool, Yg, kw, seeds, budgets) -> dict:
    res: dict = {}
    for seed in seeds:
        tr, te = make_split(pool, "cell", seed)
        tr = tr[np.all(np.isfinite(Yg[tr]), axis=1)]
        order = np.random.default_rng(500 + seed).permutation(tr)
        Yt = pool.Y[te]
        g2 = float(np.mean((Yg[tr] - pool.Y[tr]) ** 2))  # measured Gamma label noise
        for n in budgets:
            n_g = int(np.floor(n * CPU_V4 / CPU_GAMMA))
            h_v4 = n // 2
            h_g = int(np.floor((n - h_v4) * CPU_V4 / CPU_GAMMA))
            if n_g > order.size:
                continue
            r_v4 = order[:n]
            P, est = _fit_predict(X[r_v4], pool.Y[r_v4], pool.cell_id[r_v4], None, X[te], kw, seed)
            s2 = float(min(est.cv_mse_.values())) if len(est.cv_mse_) > 1 else g2
            w_g = s2 / (s2 + g2)
            out = {"v4": P}
            r_g = order[:n_g]
            for tag, w in (("gamma", None), ("gamma weighted", np.full(n_g, w_g))):
                out[tag] = _fit_predict(X[r_g], Yg[r_g], pool.cell_id[r_g], w, X[te], kw, seed)[0]
            r_h = np.concatenate([order[:h_v4], order[h_v4:h_v4 + h_g]])
            Y_h = np.vstack([pool.Y[order[:h_v4]], Yg[order[h_v4:h_v4 + h_g]]])
            for tag, w in (("half", None),
                           ("half weighted", np.r_[np.ones(h_v4), np.full(h_g, w_g)])):
                out[tag] = _fit_predict(X[r_h], Y_h, pool.cell_id[r_h], w, X[te], kw, seed)[0]
            entry = res.setdefault(str(n), {"n_v4": n, "n_gamma": n_g, "half": [h_v4, h_g],
                                            "rmse": {}, "w_gamma": [], "g2": []})
            entry["w_gamma"].append(w_g)
            entry["g2"].append(g2)
            for tag, Pt in out.items():
                entry["rmse"].setdefault(tag, []).append(float(rmse_energy(Yt, Pt).mean()))
        parts = [f"{n}: " + " ".join(f"{t} {v[-1]:.4f}" for t, v in e["rmse"].items())
                 for n, e in res.items()]
        print(f"seed {seed}: " + ", ".join(parts), flush=True)
    summary = {}
    for n, e in res.items():
        base = np.array(e["rmse"]["v4"])
        rows = {}
        for tag, vals in e["rmse"].items():
            v = np.array(vals)
            d = v - base
            rows[tag] = {"rmse_mean": float(v.mean()), "rmse_sem": float(v.std(ddof=1) / np.sqrt(v.size)),
                         "minus_v4_mean": float(d.mean()),
                         "minus_v4_sem": float(d.std(ddof=1) / np.sqrt(v.size)),
                         "fraction_seeds_better_than_v4": float(np.mean(d < 0))}
        summary[n] = {"cpu_s": float(e["n_v4"] * CPU_V4), "n_v4": e["n_v4"], "n_gamma": e["n_gamma"],
                      "half_n_v4_n_gamma": e["half"], "n_seeds": len(base),
                      "w_gamma_mean": float(np.mean(e["w_gamma"])),
                      "gamma_rms_diff": float(np.sqrt(np.mean(e["g2"]))), "rows": rows}
    return summary


def summary_from_log(path: str) -> dict:
    """The summary of :func:`run` rebuilt from the per-seed lines a (stopped) run printed."""
    res: dict = {}
    for line in open(path):
        if not line.startswith("seed "):
            continue
        for part in line.split(":", 1)[1].split(", "):
            budget, rest = part.strip().split(": ", 1)
            entry = res.setdefault(budget, {"rmse": {}})
            words: list[str] = []
            for token in rest.split():
                try:
                    val = float(token)
                except ValueError:
                    words.append(token)
                    continue
                entry["rmse"].setdefault(" ".join(words), []).append(val)
                words = []
    summary = {}
    for n, e in res.items():
        base = np.array(e["rmse"]["v4"])
        rows = {}
        for tag, vals in e["rmse"].items():
            v = np.array(vals[:base.size])
            d = v - base[:v.size]
            rows[tag] = {"rmse_mean": float(v.mean()), "rmse_sem": float(v.std(ddof=1) / np.sqrt(v.size)),
                         "minus_v4_mean": float(d.mean()),
                         "minus_v4_sem": float(d.std(ddof=1) / np.sqrt(v.size)),
                         "fraction_seeds_better_than_v4": float(np.mean(d < 0))}
        nb = int(n)
        summary[n] = {"cpu_s": nb * CPU_V4, "n_v4": nb, "n_gamma": int(np.floor(nb * CPU_V4 / CPU_GAMMA)),
                      "half_n_v4_n_gamma": [nb // 2, int(np.floor((nb - nb // 2) * CPU_V4 / CPU_GAMMA))],
                      "n_seeds": int(base.size), "rows": rows}
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="copy of the v4 dataset")
    ap.add_argument("gamma", help="the same sites re-evaluated under screening-gamma")
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--budgets", type=int, nargs="*", default=[10, 15, 20, 25, 30])
    ap.add_argument("--kinds", nargs="*", default=None)
    ap.add_argument("--method", default=None)
    ap.add_argument("-o", "--out", default="docs/figures/forward_multifidelity.json")
    ap.add_argument("--from-log", default=None, help="summarise the per-seed lines of a stopped run")
    ap.add_argument("--sidecar", default=None, help="descriptor sidecar to use as it is")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "forward"))
    from bench_forward_models import trust_sidecar  # benchmarks/forward/

    trust_sidecar(args.sidecar)
    kinds = args.kinds or DEFAULT_SETTINGS["kinds"]
    kw = {"method": args.method or DEFAULT_SETTINGS["method"], "residual": DEFAULT_SETTINGS["residual"],
          "target": DEFAULT_SETTINGS["target"]}
    if args.from_log:
        summary = summary_from_log(args.from_log)
        n_spectra = None
    else:
        X, pool, _ = pool_features(args.dataset, kinds)
        Yg = gamma_labels(args.gamma, pool)
        summary = run(X, pool, Yg, kw, list(range(args.seeds)), args.budgets)
        n_spectra = pool.n_spectra
    result = {"dataset": os.path.basename(args.dataset), "n_spectra": n_spectra,
              "model": {"kinds": kinds, **kw}, "cpu_s_per_site": {"v4": CPU_V4, "gamma": CPU_GAMMA},
              "test": "v4 spectra of held-out cells (cell split)", "budgets": summary}
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    for n, s in summary.items():
        print(f"budget {n} v4 sites ({s['n_gamma']} Gamma; {s['n_seeds']} seeds): " + ", ".join(
            f"{t} {r['rmse_mean']:.4f} ({r['minus_v4_mean']:+.4f} +- {r['minus_v4_sem']:.4f})"
            for t, r in s["rows"].items()))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
