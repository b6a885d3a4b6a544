"""Measured-spectrum networks on held-out cells: error and interval coverage vs beamline effects.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/inverse/bench_inverse_mixtures.py \\
        [--dataset PATH] [--seeds 0 1 2] [--members 5] [--n-test 500] [--out docs/figures]

Copies the dataset first (the campaign keeps writing the original). For each seed: a cell split
(about 20 % of the sites' cells held out as test cells), the measured-spectrum models
(:func:`amorphxas.inverse.mixture_models.train_measured`) trained and calibrated on the other
cells, and, as the "before" reference, the site-spectrum network (``train_inverse`` with
``bounds=None``, as it was before the bounded heads) trained on the same non-test cells. Test
spectra are site-spectrum mixtures built only from the test cells' site spectra (real DFT
spectra), with one perturbation at a time: pre-edge slope (rise over the 50 eV grid, in edge
steps), noise (sd in edge steps), extra Gaussian broadening (sigma, eV), energy shift (eV,
either claimed calibrated or with the uncalibrated shift prior). Reports mean
valence / mean charge RMSE and the coverage of the stated 68 % / 95 % intervals.

Also the robustness table of a 50/50 mixture of the Si0 and Si4+ mean spectra (all cells): the
site network trained on a random 80 % of the sites (before) and the measured-spectrum models
trained on all cells (after). Writes ``inverse_mixtures.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from amorphxas.dataset import embedded_path  # noqa: E402
from amorphxas.inverse.mixture_models import SHIFT_PRIOR_EV, train_measured  # noqa: E402
from amorphxas.inverse.mixtures import apply_beamline, mix, renormalise, site_spectrum_mixtures  # noqa: E402
from amorphxas.inverse.uncertainty import coverage  # noqa: E402
from amorphxas.inverse.workflow import invert_spectrum, load_inverse_data, split_indices, train_inverse  # noqa: E402

CONDITIONS = {  # name: (apply_beamline keywords, calibrated)
    "clean": ({}, True),
    "slope 5 %": ({"slope": 0.05}, True),
    "slope 20 %": ({"slope": 0.20}, True),
    "noise 1 %": ({"noise": 0.01}, True),
    "noise 2 %": ({"noise": 0.02}, True),
    "broadening 0.5 eV": ({"broadening_eV": 0.5}, True),
    "broadening 1.0 eV": ({"broadening_eV": 1.0}, True),
    "shift +0.3 eV (calibration residual)": ({"shift_eV": 0.3}, True),
    "shift -0.3 eV (calibration residual)": ({"shift_eV": -0.3}, True),
    "shift +1 eV, treated as calibrated": ({"shift_eV": 1.0}, True),
    "shift -1 eV, treated as calibrated": ({"shift_eV": -1.0}, True),
    "shift +1 eV, not calibrated (prior +-1.5 eV)": ({"shift_eV": 1.0}, False),
    "shift -1 eV, not calibrated (prior +-1.5 eV)": ({"shift_eV": -1.0}, False),
}
TARGETS = ("valence", "charge")


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def one_seed(datas: dict, seed: int, members: int, n_test: int) -> dict:
    ref = datas["valence"]
    _, test = split_indices(ref.n_sites, ref.cell_id, "cell", seed, 0.2)
    test_cells = sorted(set(ref.cell_id[test].tolist()))
    t0 = time.perf_counter()
    models = train_measured(targets=TARGETS, datas=datas, exclude_cells=test_cells, seed=seed,
                            n_members=members)
    seconds = time.perf_counter() - t0
    out: dict = {"seed": seed, "test_cells": test_cells, "train_cells": models.info["train_cells"],
                 "calibration_cells": models.info["calibration_cells"],
                 "train_seconds": round(seconds, 1),
                 "calibration": {t: c.as_dict() for t, c in models.calibration.items()},
                 "conditions": {}}
    before = {}
    for target in TARGETS:  # the site network on the same non-test cells (before)
        d = datas[target]
        keep = np.flatnonzero(~np.isin(d.cell_id, test_cells))
        sub = type(d)(**{**d.__dict__, **{k: getattr(d, k)[keep] for k in
                                          ("X", "raw", "y", "cell_id", "atom_index", "valence")}})
        before[target], _ = train_inverse(target=target, data=sub, split="random", seed=seed,
                                          cv_grid={}, n_members=members, bounds=None)
    sets = {}
    for target in TARGETS:
        d = datas[target]
        rows = np.flatnonzero(np.isin(d.cell_id, test_cells))
        W, _ = site_spectrum_mixtures(d.cell_id[rows], d.valence[rows], n_test, 1000 + seed)
        raw, y = mix(W, d.raw[rows], d.y[rows])
        sets[target] = (renormalise(raw), y)
    for name, (kw, calibrated) in CONDITIONS.items():
        row = {}
        for target in TARGETS:
            X0, y = sets[target]
            X = apply_beamline(X0, **kw, rng=np.random.default_rng(seed + 17))
            p = models.predict_normalised(X, 0.0 if calibrated else SHIFT_PRIOR_EV)[target]
            row[target] = {"rmse": _rmse(p["mean"], y),
                           "coverage_68": coverage(y, p["lo68"], p["hi68"]),
                           "coverage_95": coverage(y, p["lo95"], p["hi95"]),
                           "mean_std": float(np.mean(p["std"])),
                           "before_rmse": _rmse(before[target].predict(X), y)}
        out["conditions"][name] = row
    out["n_test_spectra"] = n_test
    return out


def robustness_table(datas: dict, members: int) -> dict:
    """50/50 mixture of the Si0 and Si4+ mean raw spectra (x1000 + offset), truth 2.0."""
    d = datas["valence"]
    e = d.energy
    mixture = 0.5 * (d.raw[d.valence == 0].mean(axis=0) + d.raw[d.valence == 4].mean(axis=0))
    step = mixture[e >= 1865].mean() - mixture[e <= 1833].mean()
    fine = np.linspace(1825.0, 1885.0, 601)
    cases = {"clean": (e, mixture), "pre-edge slope 5 %": (e, mixture + 0.05 * step * (e - e[0]) / 50),
             "pre-edge slope 20 %": (e, mixture + 0.20 * step * (e - e[0]) / 50),
             "energy +1 eV": (fine, np.interp(fine - 1.0, e, mixture)),
             "energy -1 eV": (fine, np.interp(fine + 1.0, e, mixture))}
    old, _ = train_inverse(target="valence", data=d, split="random", seed=0, n_members=members,
                           bounds=None)  # the site network as it was (clipped, no bounded head)
    new = train_measured(targets=("valence", "charge", "rdf"), datas=datas, seed=0, n_members=members)
    rows = {}
    for name, (energy, x) in cases.items():
        y = 1000.0 * x + 3.0
        r_old = invert_spectrum(old, energy, y)
        row = {"before": [r_old["value"], r_old["std"]]}
        for label, calibrated in (("after, calibrated", True), ("after, not calibrated", False)):
            r = new.predict(energy, y, calibrated=calibrated)
            row[label] = {"mean_valence": r["mean_valence"], "std": r["mean_valence_std"],
                          "interval_95": r["mean_valence_interval_95"], "in_domain": r["in_domain"]}
        rows[name] = row
    return {"truth_mean_valence": 2.0, "rows": rows, "train_seconds_all_cells": new.info["train_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(embedded_path()))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "dataset.h5"
        shutil.copy(args.dataset, copy)
        t0 = time.perf_counter()
        datas = {t: load_inverse_data(copy, t) for t in ("valence", "charge", "rdf")}
        table = robustness_table(datas, args.members)
        print(json.dumps(table), flush=True)
        seeds = []
        for s in args.seeds:
            seeds.append(one_seed(datas, s, args.members, args.n_test))
            write(args, datas, seeds, table, t0)
    write(args, datas, seeds, table, t0, final=True)


def write(args, datas: dict, seeds: list, table: dict, t0: float, final: bool = False) -> None:
    """Write inverse_mixtures.json with the seeds done so far (mean over them)."""
    summary = {}
    for name in CONDITIONS:
        summary[name] = {t: {k: float(np.mean([s["conditions"][name][t][k] for s in seeds]))
                             for k in seeds[0]["conditions"][name][t]} for t in TARGETS}
    d = datas["valence"]
    result = {"dataset": f"{args.dataset} ({d.n_sites} site spectra, {d.n_cells} cells)",
              "command": "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/inverse/"
                         f"bench_inverse_mixtures.py --seeds {' '.join(map(str, args.seeds))} "
                         f"--members {args.members} --n-test {args.n_test}",
              "seconds": round(time.perf_counter() - t0, 1), "mean_over_seeds": summary,
              "robustness_50_50": table, "seeds": seeds}
    out = Path(args.out) / "inverse_mixtures.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"seeds done: {[s['seed'] for s in seeds]} ({result['seconds']} s)", flush=True)
    if not final:
        return
    for name, row in summary.items():
        print(f"{name:48s} " + "  ".join(
            f"{t}: rmse {r['rmse']:.3f} (before {r['before_rmse']:.3f}) cov68 {r['coverage_68']:.2f} "
            f"cov95 {r['coverage_95']:.2f}" for t, r in row.items()))
    print(f"-> {out} ({result['seconds']} s)")


if __name__ == "__main__":
    main()
