"""Learning curve of the default forward model on the cell split: ratio to the valence-mean
baseline vs the number of training spectra, and the sizes a power law puts at 0.85 and 0.75.

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/copy.h5
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/forward/bench_default_curve.py /tmp/copy.h5 \
        --seeds 10 --sizes 30 50 75 -o docs/results/forward_default_curve.json

Per seed: the cell split's training rows (v4 + Gamma rows of the training cells) subsampled at
random to each size (and all of them), the default (:func:`default_estimator`) and the single
kernel model fitted on the subsample, both scored on the same v4 test rows of the held-out cells
against the valence-mean spectrum of the same subsample. Fit: ratio = a * n^b on the mean ratios.
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
from amorphxas.forward.compact_model import (  # noqa: E402
    DEFAULT_ENSEMBLE,
    DEFAULT_SETTINGS,
    TRAINING_FIDELITY,
    _blocks,
    default_estimator,
    pool_features,
)
from amorphxas.forward.metrics import rmse_energy, valence_mean_baseline  # noqa: E402
from amorphxas.forward.model import make_split  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sizes", type=int, nargs="+", default=[30, 50, 75])
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    t0 = time.time()
    X, pool, params = pool_features(args.dataset, DEFAULT_ENSEMBLE["kinds"], fidelity=TRAINING_FIDELITY)
    blocks = _blocks(DEFAULT_ENSEMBLE["kinds"], params)
    p0, p1 = blocks["physical"]
    Xp = np.column_stack([X[:, p0:p1], X[:, -1]])
    res: dict = {"default": {}, "single": {}}
    for seed in range(args.seeds):
        tr, te = make_split(pool, "cell", seed)
        rng = np.random.default_rng(1000 + seed)
        for n in [*args.sizes, tr.size]:
            if n > tr.size:
                continue
            sub = tr if n == tr.size else np.sort(rng.choice(tr, n, replace=False))
            g = pool.cell_id[sub]
            if np.unique(g).size < 2:
                continue
            base = rmse_energy(pool.Y[te], valence_mean_baseline(pool.Y[sub], pool.valence[sub],
                                                                  pool.valence[te])).mean()
            ens = default_estimator(blocks, seed).fit(X[sub], pool.Y[sub], groups=g)
            one = CompactSpectrum(method=DEFAULT_SETTINGS["method"], residual=DEFAULT_SETTINGS["residual"],
                                  random_state=seed).fit(Xp[sub], pool.Y[sub], groups=g)
            key = "full" if n == tr.size else str(n)
            for name, P in (("default", ens.predict(X[te])), ("single", one.predict(Xp[te]))):
                ratio = float(rmse_energy(pool.Y[te], P).mean() / base)
                res[name].setdefault(key, []).append((int(sub.size), ratio))
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1][1]:.3f}" for k, v in res["default"].items()),
              flush=True)
        out = {"dataset": os.path.basename(args.dataset), "split": "cell", "n_seeds": seed + 1,
               "command": f"benchmarks/forward/bench_default_curve.py COPY.h5 --seeds {args.seeds} "
                          f"--sizes {' '.join(map(str, args.sizes))}", "models": {}}
        for name, pts in res.items():
            curve = {k: {"n_train": float(np.mean([a for a, _ in v])),
                         "ratio_mean": float(np.mean([b for _, b in v])),
                         "ratio_std": float(np.std([b for _, b in v], ddof=1)) if len(v) > 1 else 0.0}
                     for k, v in pts.items()}
            n = np.array([c["n_train"] for c in curve.values()])
            r = np.array([c["ratio_mean"] for c in curve.values()])
            fit = {}
            if len(n) >= 3:
                b, log_a = np.polyfit(np.log(n), np.log(r), 1)
                fit = {"a": float(np.exp(log_a)), "b": float(b), "form": "ratio = a * n_train^b"}
                for target in (0.85, 0.75):
                    fit[f"n_train_for_{target}"] = (float(np.exp((np.log(target) - log_a) / b))
                                                    if b < 0 else None)
            out["models"][name] = {"points": curve, "fit": fit}
        out["wall_s"] = time.time() - t0
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)
    print(json.dumps({k: v["fit"] for k, v in out["models"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
