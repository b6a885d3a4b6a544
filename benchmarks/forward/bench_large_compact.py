"""The default (compact) forward model on the shipped large cells: domain check, average spectrum
against the bulk Si + SiO2 sum (study 1 Fig. 12), CPU time on one core.

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/copy.h5
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/amorphxas train forward /tmp/copy.h5 -o /tmp/model
    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/forward/bench_large_compact.py /tmp/copy.h5 \
        /tmp/model -o benchmarks/forward/results_forward_9826_compact.json \
        --figure docs/figures/forward_large_models_compact.png

For each cell (default: every shipped large cell, ``amorphxas/data/large/``): the process CPU
time of featurising its Si sites and of predicting them (spectra, std, domain check; one pass,
measured inside :func:`~amorphxas.forward.large_cells.analyse_large_cells`), the domain counts
(kNN score above the model's threshold; more than four O) and the cell-level check (the cell's
mean feature shift against the model's threshold), and the RMSE (model
normalisation, mean over the energy grid) of the cell-average prediction against
(1 - x/2) c-Si + (x/2) alpha-quartz built from the dataset's DFT crystal references, from the
model's own predictions for the two crystals, and against the valence-weighted mean DFT site
spectra (:func:`amorphxas.forward.large_cells.analyse_large_cells`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def rmse(a, b) -> float | None:
    return None if b is None else float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def main(argv=None) -> int:
    from amorphxas.forward.compact_model import CompactForwardModel, load_forward
    from amorphxas.forward.large_cells import analyse_large_cells, shipped_large_cells

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a copy of the dataset (references, per-valence DFT means)")
    ap.add_argument("model", help="MODEL_DIR of `amorphxas train forward` (the compact default)")
    ap.add_argument("--cells", nargs="*", default=None, help="structure files (default: shipped)")
    ap.add_argument("-o", "--out", default="benchmarks/forward/results_forward_9826_compact.json")
    ap.add_argument("--figure", default=None, help="draw the cells' average spectra here (png)")
    args = ap.parse_args(argv)
    model = load_forward(args.model)
    if not isinstance(model, CompactForwardModel):
        raise SystemExit(f"{args.model}: not a compact (default) forward model")
    cells = [Path(c) for c in args.cells] if args.cells else shipped_large_cells()
    result = {"dataset": os.path.basename(args.dataset), "model": {
        "settings": model.header.get("settings"), "n_train": model.header.get("n_train"),
        "estimator": model.header.get("estimator", {}).get("type", "compact"),
        "n_members": len(getattr(model.estimator, "members_", [model.estimator])),
        "train_fidelity": model.header.get("train_fidelity"),
        "cell_threshold": model.domain.get("cell_threshold"),
        "split": model.header.get("split"), "metrics": model.header.get("metrics"),
        "domain_threshold": model.domain["threshold"]},
        "cores": "1 (OMP/OPENBLAS/MKL = 1) at nice 19 on a machine whose two cores run a DFT "
                 "campaign; *_cpu_s are process CPU times, not wall times",
        "command": "benchmarks/forward/bench_large_compact.py COPY.h5 MODEL_DIR", "cells": {}}
    results = analyse_large_cells(model, cells, args.dataset)
    for r in results:
        result["cells"][r["file"]] = {
            "n_atoms": r["n_atoms"], "n_si": r["n_si"], "x": r["x"],
            "valence_fractions": [float(v) for v in r["valence_fractions"]],
            "n_outside_knn": r["n_outside_knn"], "n_overcoordinated": r["n_overcoordinated"],
            "n_outside": r["n_outside"],
            **{k: r.get(k) for k in ("cell_shift", "cell_threshold", "cell_outside")},
            "featurise_cpu_s": r["featurise_cpu_s"], "predict_cpu_s": r["cpu_s"] - r["featurise_cpu_s"],
            "total_cpu_s": r["cpu_s"], "cpu_s_per_1000_si": 1000 * r["cpu_s"] / r["n_si"],
            "rmse_vs_mixture_dft_references": rmse(r["predicted_mean"], r["mixture_spectrum"]),
            "rmse_vs_mixture_predicted_crystals": rmse(r["predicted_mean"], r["mixture_predicted"]),
            "rmse_vs_valence_weighted_dft": rmse(r["predicted_mean"], r["valence_weighted_dft"]),
            "rmse_mixture_predicted_vs_dft_references": rmse(r["mixture_predicted"], r["mixture_spectrum"]),
            "mean_predictive_std": float(np.mean(r["predicted_std_mean"])),
            "energy": [float(e) for e in r["energy"]],
            "predicted_mean": [float(v) for v in r["predicted_mean"]],
            "mixture_dft_references": [float(v) for v in r["mixture_spectrum"]],
            "mixture_predicted_crystals": [float(v) for v in r["mixture_predicted"]]}
        c = result["cells"][r["file"]]
        print(f"{r['file']}: {r['n_si']} Si, outside {r['n_outside']} (kNN {r['n_outside_knn']}, "
              f"> 4 O {r['n_overcoordinated']}), cell outside {c['cell_outside']} "
              f"(shift {c['cell_shift']}), CPU {c['total_cpu_s']:.1f} s "
              f"(features {c['featurise_cpu_s']:.1f} s), RMSE vs mixture DFT "
              f"{c['rmse_vs_mixture_dft_references']:.4f}, predicted crystals "
              f"{c['rmse_vs_mixture_predicted_crystals']:.4f}, valence-weighted DFT "
              f"{c['rmse_vs_valence_weighted_dft']}", flush=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    if args.figure:
        from amorphxas.report.large_cell_figures import plot_large_models

        plot_large_models(results, Path(args.figure))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
