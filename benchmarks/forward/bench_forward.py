"""Forward-model throughput: descriptors + prediction (with std and domain check) for every Si site
of a large cell, and the cost of a UR batch selection over the dataset's pool.

Run single-threaded and niced (the machine shares its 2 cores with a DFT campaign)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/forward/bench_forward.py

Large cell: ``--structure FILE`` (e.g. the 9,826-atom a-SiO melt-quench model shipped in
``amorphxas/data/large/``, study 1's size), or by default the dataset's x = 1.00 cell (100 atoms)
replicated ``--repeat`` times (5x5x4: 10,000 atoms, 5,000 Si).

Model: if the dataset (a copy is read) holds at least MIN_SITES spectra, the real model trained on
them. Otherwise the timing uses a model fitted to **placeholder targets** (random numbers, not
spectra): prediction cost depends only on the array shapes, and those predictions are discarded
(never saved, plotted or reported). The output says which was used.
Prints one JSON line per descriptor kind; ``--out FILE`` also writes the whole result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    from amorphxas.dataset import embedded_path, load_structure
    from amorphxas.descriptors import fit_pca
    from amorphxas.forward import ForwardModel, RidgeSpectrum, predict_structure
    from amorphxas.forward.active import select_ur
    from amorphxas.forward.model import MIN_SITES, domain_statistics, labelled_rows, load_pool
    from amorphxas.structures import read_structure

    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(embedded_path()))
    parser.add_argument("--kinds", default="soap-gto,snap")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--repeat", default="5,5,4")
    parser.add_argument("--structure", default=None, help="large cell (extxyz) to predict")
    parser.add_argument("--mode", default="nmf")
    parser.add_argument("--n-select", type=int, default=20)
    parser.add_argument("--out", default=None, help="JSON results file (default: print only)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-forward-"))
    copy = work / Path(args.dataset).name
    shutil.copy2(args.dataset, copy)
    if args.structure:
        big_path = Path(args.structure)
        big = read_structure(big_path)
        label = big_path.name
    else:
        rep = tuple(int(v) for v in args.repeat.split(","))
        big = load_structure(copy, "siox_x1.00_s1").repeat(rep)
        big_path = work / "big.extxyz"
        big.write(big_path)
        label = f"siox_x1.00_s1 x {rep}"
    n_si = int(np.sum(big.numbers == 14))
    results = {"cell": label, "n_atoms": len(big), "n_si": n_si,
               "preset": args.preset, "mode": args.mode, "cores": "1 (OMP/OPENBLAS=1, nice 15)",
               "kinds": {}}
    for kind in args.kinds.split(","):
        t0 = time.perf_counter()
        pool = load_pool(copy, kind, args.preset, descriptors=work / f"{kind}.h5")
        t_pool = time.perf_counter() - t0
        rows = labelled_rows(pool)
        pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
        Z = pca.transform(pool.X_raw)
        if rows.size >= MIN_SITES:
            source = f"real model on {rows.size} site spectra"
            est = RidgeSpectrum(mode=args.mode).fit(Z[rows], pool.Y[rows])
        else:
            source = (f"placeholder targets (dataset has {rows.size} spectra < {MIN_SITES}); "
                      "timing only, predictions discarded")
            rng = np.random.default_rng(0)
            placeholder = rng.uniform(0.0, 1.0, (len(Z), pool.energy.size))
            est = RidgeSpectrum(mode=args.mode, alpha=1.0).fit(Z, placeholder)
        model = ForwardModel(estimator=est, pca=pca, energy=pool.energy, scale=1.0,
                             header={"kind": kind, "preset": args.preset,
                                     "descriptor": pool.descriptor,
                                     "domain": domain_statistics(Z)})
        t0 = time.perf_counter()
        _, Y, S, dom = predict_structure(model, big_path, chunk=1024, return_domain=True)
        t_pred = time.perf_counter() - t0
        del Y, S
        t0 = time.perf_counter()
        picks = select_ur(Z, pool.has_spectrum, args.n_select, alpha=float(est.alpha_),
                          candidate_mask=pool.valence <= 4)
        t_sel = time.perf_counter() - t0
        pool_counts = np.bincount(np.clip(pool.valence, 0, 5), minlength=6).tolist()
        results["kinds"][kind] = {
            "model": source, "descriptor_pcs": int(pca.n_components),
            "pool_sites": int(len(Z)), "pool_describe_seconds": t_pool,
            "predict_seconds_descriptors_plus_prediction": t_pred,
            "seconds_per_1000_si": t_pred / n_si * 1000,
            "n_outside_leverage": dom["n_outside_leverage"],
            "ur_select_seconds": t_sel, "ur_n_select": args.n_select,
            "ur_picks_valence_counts": np.bincount(pool.valence[picks], minlength=6).tolist(),
            "pool_valence_counts_0_to_5plus": pool_counts,
        }
        print(kind, json.dumps(results["kinds"][kind]))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
