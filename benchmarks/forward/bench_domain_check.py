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

Another interatomic potential: ``--other FILE ...`` adds cells built with another potential
(group "other"; e.g. ``build_vashishta_cells.py``). ``--model MODEL_DIR`` scores every structure
with that saved model's own domain check (e.g. the default of ``amorphxas train forward``) instead
of refitting one per ``--kinds``:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forward/bench_domain_check.py /tmp/copy.h5 \
        --model /tmp/model --other /tmp/vashishta/*.extxyz -o docs/figures/forward_domain_vashishta.json
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


def feature_shift(dataset, kinds, structures) -> dict:
    """Per physical feature: mean over the "other" cells' four-fold Si minus the mean over the
    pool's Si4+ sites, in units of the pool Si4+ standard deviation (what sets them apart)."""
    from amorphxas.descriptors.physical import NAMES

    X, pool, _ = pool_features(dataset, kinds)
    cols = slice(-1 - len(NAMES), -1)  # physical is the last block, before the valence
    ref = X[X[:, -1] == 4][:, cols]
    other = np.vstack([structure_features(a, kinds)[0] for a, g in structures.values() if g == "other"])
    other = other[other[:, -1] == 4][:, cols]
    sd = np.where(ref.std(axis=0) > 1e-12, ref.std(axis=0), 1.0)
    shift = (other.mean(axis=0) - ref.mean(axis=0)) / sd
    order = np.argsort(-np.abs(shift))
    return {"n_other_si4": int(len(other)), "n_pool_si4": int(len(ref)),
            "range_test": range_test(X, pool, structures, cols),
            "shift_in_pool_sd": {NAMES[i]: float(shift[i]) for i in order},
            "other_mean": {NAMES[i]: float(other[:, i].mean()) for i in order},
            "pool_si4_mean": {NAMES[i]: float(ref[:, i].mean()) for i in order}}


def range_test(X, pool, structures, cols) -> dict:
    """A per-feature range test (not the model's check): a Si is flagged when any physical feature
    lies outside the [min, max] of the pool's sites of its valence. Rate on the "other" cells, and
    on the pool leave one cell out (each cell against the other cells: the false-positive rate)."""
    F, v = X[:, cols], X[:, -1]
    other = np.vstack([structure_features(a, ["physical"])[0] for a, g in structures.values()
                       if g == "other"])
    Fo, vo = other[:, :-1], other[:, -1]

    def flags(ref_F, ref_v, Q, qv):
        out = np.zeros(len(Q), bool)
        for val in np.unique(qv):
            ref = ref_F[ref_v == val]
            if len(ref) >= 5:
                rows = qv == val
                out[rows] = ((Q[rows] < ref.min(axis=0)) | (Q[rows] > ref.max(axis=0))).any(axis=1)
        return out

    cell = np.asarray(pool.cell_id).astype(str)
    loo = np.zeros(len(F), bool)
    for c in np.unique(cell):
        rows = cell == c
        loo[rows] = flags(F[~rows], v[~rows], F[rows], v[rows])
    flagged = flags(F, v, Fo, vo)
    return {"n_other": int(len(Fo)), "n_other_flagged": int(flagged.sum()),
            "pool_leave_cell_out_flagged": float(loo.mean()), "n_pool": int(len(F))}


def cell_level(dataset, structures) -> dict:
    """The cell-level check (:mod:`amorphxas.forward.cell_shift`) on the physical features: the
    pool's cells leave one cell out (the threshold's definition) and every structure, with the
    feature of the largest mean shift; plus the Si4+ distributions of the Si-O length and the
    O-Si-O angle (site means and spreads) of the pool and of the "other" cells."""
    from amorphxas.descriptors.physical import NAMES
    from amorphxas.forward.cell_shift import cell_shift, fit_cell_shift

    X, pool, _ = pool_features(dataset, ["physical"])
    fit = fit_cell_shift(X[:, :-1], X[:, -1], pool.cell_id)
    out = {"threshold": fit["cell_threshold"], "pool_leave_cell_out": fit["cell_loo_scores"],
           "structures": {}}
    others = []
    for name, (atoms, group) in structures.items():
        Xs, _ = structure_features(atoms, ["physical"])
        score, shift = cell_shift(Xs[:, :-1], Xs[:, -1], fit["cell_mean"], fit["cell_sd"])
        j = int(np.nanargmax(np.abs(shift))) if np.isfinite(score) else None
        out["structures"][name] = {
            "group": group, "score": score, "flagged": bool(score > fit["cell_threshold"]),
            "feature": NAMES[j] if j is not None else None,
            "shift": float(shift[j]) if j is not None else None,
            "top3": {NAMES[i]: float(shift[i]) for i in np.argsort(-np.abs(np.nan_to_num(shift)))[:3]}}
        if group == "other":
            others.append(Xs)
    if others:
        def dist(F):
            F = F[F[:, -1] == 4]
            return {n: {"mean": float(F[:, NAMES.index(n)].mean()),
                        "q05_q50_q95": [float(q) for q in np.quantile(F[:, NAMES.index(n)], [.05, .5, .95])]}
                    for n in ("d_SiO_mean", "d_SiO_min", "angle_OSiO_mean", "angle_OSiO_std")} | {
                        "n_si4": int(len(F))}
        out["si4_distributions"] = {"pool": dist(X), "other": dist(np.vstack(others))}
    return out


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
    ap.add_argument("--other", nargs="*", default=[], help="cells from another potential (extxyz)")
    ap.add_argument("--model", default=None, help="score with this saved model's domain check")
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
    for path in args.other:
        structures[f"other potential {os.path.basename(path)}"] = (read_structure(path), "other")
    structures["stishovite (six-fold Si)"] = (stishovite(), "out")
    structures["isolated Si (4 O at 3 A)"] = (isolated(), "out")
    for ref in ("alpha-quartz", "diamond-si"):
        structures[f"{ref} (crystal)"] = (build_reference(ref), "info")
    result = {"dataset": os.path.basename(args.dataset), "feature_sets": {}}
    if args.model:
        from amorphxas.forward.compact_model import load_forward

        saved = load_forward(args.model)
        args.kinds = ["+".join(saved.kinds)]
        result["model"] = {"dir": os.path.basename(os.path.normpath(args.model)),
                           "settings": saved.header.get("settings"),
                           "n_train": saved.header.get("n_train")}
    for kinds_spec in args.kinds:
        kinds = kinds_spec.split("+")
        if args.model:
            model = saved
            entry = {"threshold": model.domain["threshold"],
                     "n_pool": int(np.asarray(model.domain["ref"]).shape[0]), "structures": {}}
        else:
            X, pool, _ = pool_features(args.dataset, kinds)
            domain = fit_domain(X[:, :-1], pool.cell_id, valence=pool.valence)
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
                "cell_shift": chk.get("cell_shift"), "cell_outside": chk.get("cell_outside"),
                "group": group, "n_sites": chk["n_sites"], "n_outside_knn": chk["n_outside_knn"],
                "n_outside": chk["n_outside"], "fraction_outside_knn": chk["n_outside_knn"] / chk["n_sites"],
                "fraction_outside": chk["n_outside"] / chk["n_sites"],
                "median_score": float(np.median(chk["knn_score"]))}
        for group, key in (("in", "new_cells_flagged"), ("other", "other_potential_flagged")):
            rows_g = [s for s in entry["structures"].values() if s["group"] == group]
            if rows_g:
                n = sum(s["n_sites"] for s in rows_g)
                entry[key] = sum(s["n_outside"] for s in rows_g) / n
                entry[key + "_knn"] = sum(s["n_outside_knn"] for s in rows_g) / n
        if args.other and kinds[-1] == "physical":
            entry["other_vs_pool_si4"] = feature_shift(args.dataset, kinds, structures)
        result["feature_sets"][kinds_spec] = entry
        print(kinds_spec, json.dumps({k: (v["n_outside"], v["n_sites"])
                                      for k, v in entry["structures"].items()}), flush=True)
    result["cell_level"] = cell_level(args.dataset, structures)
    for name, r in result["cell_level"]["structures"].items():
        print(f"cell-level {name}: {r['score']:.2f} ({r['feature']} {r['shift']}) "
              f"flagged {r['flagged']}", flush=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
