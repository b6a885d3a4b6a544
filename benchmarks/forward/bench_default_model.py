"""The shipped default forward model (what ``amorphxas train forward`` fits) on the cell split:
ratio to the valence-mean baseline and 1-sigma / 2-sigma coverage per valence, seeds 0..N-1.

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/copy.h5
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/forward/bench_default_model.py /tmp/copy.h5 \
        --seeds 10 -o docs/results/forward_default_model.json

Each seed calls :func:`amorphxas.forward.compact_model.train_compact` exactly as the CLI does
(default settings, cell split, training rows v4 + Gamma of the training cells, test rows v4 of the
held-out cells), and the single kernel-ridge model (:data:`DEFAULT_SETTINGS`) on the same split
for the paired difference. Coverage per valence pools the (site, energy) points of all seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from amorphxas.forward.compact_model import DEFAULT_SETTINGS, train_compact  # noqa: E402


def _stat(a) -> dict:
    a = np.asarray(a, float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for name in runs[0]["models"]:
        ms = [r["models"][name] for r in runs]
        cov = {}
        for k in map(str, range(5)):
            rows = [m["calibration"]["by_valence"][k] for m in ms if k in m["calibration"]["by_valence"]]
            n = sum(r["n_test"] for r in rows)
            if n:
                cov[k] = {"n_test_sites": n,
                          "within_1sigma": sum(r["within_1sigma"] * r["n_test"] for r in rows) / n,
                          "within_2sigma": sum(r["within_2sigma"] * r["n_test"] for r in rows) / n}
        n = sum(m["n_test"] for m in ms)
        cov["all"] = {"n_test_sites": n,
                      "within_1sigma": sum(m["calibration"]["within_1sigma"] * m["n_test"] for m in ms) / n,
                      "within_2sigma": sum(m["calibration"]["within_2sigma"] * m["n_test"] for m in ms) / n}
        out[name] = {"ratio": _stat([m["ratio_to_baseline"] for m in ms]),
                     "rmse": _stat([m["rmse_total"] for m in ms]),
                     "baseline_rmse": _stat([m["baseline_rmse_total"] for m in ms]),
                     "calib_scale": [m["calib_scale"] for m in ms], "coverage": cov}
    d = [r["models"]["default"]["ratio_to_baseline"] - r["models"]["single"]["ratio_to_baseline"]
         for r in runs]
    out["paired_diff_default_minus_single"] = {**_stat(d), "n_better": int(np.sum(np.array(d) < 0))}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a copy of the dataset (the campaign writes the shipped one)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--split", default="cell", choices=("cell", "random"))
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    t0 = time.time()
    keep = ("ratio_to_baseline", "rmse_total", "baseline_rmse_total", "calibration", "n_test",
            "n_train", "train_fidelity", "calib_scale", "n_cells_test")
    result = {"dataset": os.path.basename(args.dataset), "split": args.split, "n_seeds": args.seeds,
              "command": f"benchmarks/forward/bench_default_model.py COPY.h5 --seeds {args.seeds} "
                         f"--split {args.split}", "runs": []}
    for seed in range(args.seeds):
        run = {"seed": seed, "models": {}}
        _, m = train_compact(args.dataset, split=args.split, seed=seed)
        run["models"]["default"] = {k: m[k] for k in keep}
        result["n_spectra"] = m["n_spectra"]
        _, m = train_compact(args.dataset, split=args.split, seed=seed, **DEFAULT_SETTINGS)
        run["models"]["single"] = {k: m[k] for k in keep}
        result["runs"].append(run)
        result["summary"] = summarise(result["runs"])
        result["wall_s"] = time.time() - t0
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
        print(f"seed {seed}: default {run['models']['default']['ratio_to_baseline']:.3f} "
              f"single {run['models']['single']['ratio_to_baseline']:.3f}", flush=True)
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
