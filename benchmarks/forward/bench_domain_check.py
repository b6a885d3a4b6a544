"""Does the default model's domain check discriminate? Flag rates on structures in and out of family.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/forward/bench_domain_check.py /tmp/copy.h5 \
        --cells runs/fm/new_*.extxyz -o docs/figures/forward_domain.json

In family: new melt-quench cells built with the dataset's own builder and preset
(``melt_quench(x, 100, preset="dataset", seed)``; ``--build X:SEED ...`` builds them, else give
``--cells``), and the pool's own sites scored leave-one-cell-out (the threshold's definition).
Out of family: stishovite (six-fold Si, rutile-type SiO2, built with ASE), a Si atom alone in a
12 A box with 4 O at 3 A ("isolated"), and alpha-quartz / diamond Si (crystals; not in the
amorphous training family but locally similar, reported for information). For each feature set
the kNN score threshold is fitted on the dataset's pool only; the flag counts are per Si site.
"""

from __future__ import annotations

import argparse
import json
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.spacegroup import crystal  # noqa: E402

from amorphxas.forward.compact import CompactSpectrum  # noqa: E402
from amorphxas.forward.compact_model import (  # noqa: E402
    CompactForwardModel,
    fit_domain,
    pool_features,
    structure_features,
)


def stishovite() -> Atoms:
    """Rutile-type SiO2 (a = 4.1773, c = 2.6655 A, O at x = 0.3062), 3x3x4: 72 six-fold Si."""
    return crystal(["Si", "O"], basis=[(0, 0, 0), (0.3062, 0.3062, 0)], spacegroup=136,
                   cellpar=[4.1773, 4.1773, 2.6655, 90, 90, 90]).repeat((3, 3, 4))


def isolated() -> Atoms:
    """One Si with four O at 3.0 A (tetrahedral directions) in a 12 A cubic box."""
    d = 3.0 / np.sqrt(3.0)
    pos = [(6, 6, 6)] + [(6 + sx * d, 6 + sy * d, 6 + sx * sy * d)
                         for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
    return Atoms("SiO4", positions=pos, cell=[12, 12, 12], pbc=True)


def main(argv=None) -> int:
    from amorphxas.structures.io import read_structure
    from amorphxas.structures.references import build_reference

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--cells", nargs="*", default=[], help="new same-family cells (extxyz)")
    ap.add_argument("--build", nargs="*", default=[], help="X:SEED cells to build first")
    ap.add_argument("--kinds", nargs="*", default=["chgnet", "physical", "chgnet+physical"])
    ap.add_argument("-o", "--out", default="docs/figures/forward_domain.json")
    ap.add_argument("--sidecar", default=None, help="descriptor sidecar to use as it is")
    args = ap.parse_args(argv)
    from bench_forward_models import trust_sidecar

    trust_sidecar(args.sidecar)
    structures = {}
    for spec in args.build:
        from amorphxas.structures.builders import melt_quench

        x, seed = spec.split(":")
        structures[f"new melt-quench x={float(x):.2f} seed {seed}"] = (
            melt_quench(float(x), 100, preset="dataset", seed=int(seed), progress=False), "in")
    for path in args.cells:
        structures[f"new melt-quench {os.path.basename(path)}"] = (read_structure(path), "in")
    structures["stishovite (six-fold Si)"] = (stishovite(), "out")
    structures["isolated Si (4 O at 3 A)"] = (isolated(), "out")
    for ref in ("alpha-quartz", "diamond-si"):
        structures[f"{ref} (crystal)"] = (build_reference(ref), "info")
    result = {"dataset": os.path.basename(args.dataset), "feature_sets": {}}
    for kinds_spec in args.kinds:
        kinds = kinds_spec.split("+")
        X, pool, _ = pool_features(args.dataset, kinds)
        domain = fit_domain(X[:, :-1], pool.cell_id)
        rows = np.flatnonzero(pool.has_spectrum & (pool.valence <= 4))
        est = CompactSpectrum().fit(X[rows], pool.Y[rows], groups=pool.cell_id[rows])
        model = CompactForwardModel(est, domain, pool.energy, header={"kinds": kinds})
        loo = domain["loo_scores"]
        entry = {"threshold": domain["threshold"], "n_pool": int(loo.size),
                 "pool_leave_cell_out_flagged": float(np.mean(loo > domain["threshold"])),
                 "structures": {}}
        for name, (atoms, group) in structures.items():
            Xs, _ = structure_features(atoms, kinds)
            chk = model.domain_check(Xs)
            entry["structures"][name] = {
                "group": group, "n_sites": chk["n_sites"], "n_outside_knn": chk["n_outside_knn"],
                "n_outside": chk["n_outside"], "fraction_outside_knn": chk["n_outside_knn"] / chk["n_sites"],
                "fraction_outside": chk["n_outside"] / chk["n_sites"],
                "median_score": float(np.median(chk["knn_score"]))}
        inside = [s for s in entry["structures"].values() if s["group"] == "in"]
        if inside:
            entry["new_cells_flagged"] = (sum(s["n_outside"] for s in inside)
                                          / sum(s["n_sites"] for s in inside))
        result["feature_sets"][kinds_spec] = entry
        print(kinds_spec, json.dumps({k: (v["n_outside"], v["n_sites"])
                                      for k, v in entry["structures"].items()}), flush=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
