"""Forward models on equal terms: every candidate on the same splits, the valence-mean baseline beside.

    cp src/amorphxas/data/siox_sik_v4.h5 /tmp/copy.h5
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/forward/bench_forward_models.py /tmp/copy.h5 \
        --seeds 20 -o docs/figures/forward_models.json

Splits: ``random`` (study 1's valence-stratified 20 % test set) and ``cell`` (whole cells held out,
>= 20 % of the sites), seeds 0..N-1; for every (split, seed) all candidates see the same training
and test rows. Per candidate: total RMSE (study 1's mean over energies of RMSE(E)), its ratio to
the valence-mean baseline of the same training rows, mean and std over seeds, and the coverage of
the 1-sigma / 2-sigma bands (all test points; per valence on the cell split).

Candidates: study 1's ridge on 99.9 %-PCA descriptors (ACSF, soap-gto; reference rows), and
:class:`amorphxas.forward.compact.CompactSpectrum` (ridge / kernel ridge / GP; residual on the
valence mean or not; direct or spectral-PCA targets) on compact inputs: CHGNet embeddings (64),
physical features (24), both, and the leading 20 PCs of ACSF / soap-gto (capped by the data);
plus a small ensemble. Learning curves (cell split) for the best three: training sets subsampled
to fixed sizes, the ratio fitted as a * n^b and the size where it reaches 0.75 extrapolated.
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
from amorphxas.forward.metrics import coverage_by_valence  # noqa: E402
from amorphxas.forward.metrics import rmse_energy, valence_mean_baseline  # noqa: E402
from amorphxas.forward.model import evaluate_split, labelled_rows, load_pool, make_split  # noqa: E402

FEATURES = {"chgnet": ("chgnet",), "physical": ("physical",), "chgnet+physical": ("chgnet", "physical"),
            "acsf-pc20": ("acsf",), "soap-pc20": ("soap-gto",)}


def trust_sidecar(path: str | None) -> None:
    """Use the descriptor sidecar ``path`` as it is (no recomputation when its cache keys are
    older than the installed code; rows are still checked against the dataset's sites by
    ``load_pool``). For re-running on a machine whose CPU is taken by a DFT campaign: the values
    of a sidecar written by an earlier version are the same when it holds no NaN (load_pool refuses
    those)."""
    if path is None:
        return
    import amorphxas.forward.model as fm

    fm.descriptor_sidecar = lambda *args, **kwargs: path


def load_inputs(dataset: str, compact_only: bool = False,
                study1_kinds=("acsf", "soap-gto")) -> tuple[dict, object, dict]:
    """Pools of every kind (rows in the same order), feature matrices per feature set."""
    from sklearn.decomposition import PCA

    kinds = ("chgnet", "physical") if compact_only else ("chgnet", "physical", *study1_kinds)
    pools = {k: load_pool(dataset, k, "study1") for k in kinds}
    ref = pools["chgnet"]
    for p in pools.values():
        assert list(p.cell_id) == list(ref.cell_id) and np.array_equal(p.atom_index, ref.atom_index)
    feats = {}
    for name, kinds in FEATURES.items():
        if any(k not in pools for k in kinds):
            continue
        if name.endswith("pc20"):
            X = pools[kinds[0]].X_raw
            S = (X - X.mean(0)) / np.where(X.std(0) > 1e-12, X.std(0), 1.0)
            F = PCA(20, svd_solver="full", random_state=0).fit_transform(S)  # pool PCA, no spectra
        else:
            F = np.column_stack([pools[k].X_raw for k in kinds])
        feats[name] = np.column_stack([F, ref.valence.astype(float)])
    return pools, ref, feats


def compact_candidates() -> dict:
    """name -> (feature set, CompactSpectrum keyword arguments)."""
    c = {}
    for feat in FEATURES:
        for resid in (False, True):
            c[f"ridge {feat}{' residual' if resid else ''}"] = (feat, dict(method="ridge", residual=resid))
    c["ridge chgnet pca12"] = ("chgnet", dict(method="ridge", residual=False, target="pca"))
    for feat in ("chgnet", "physical", "chgnet+physical"):
        for resid in (False, True):
            c[f"krr {feat}{' residual' if resid else ''}"] = (feat, dict(method="krr", residual=resid))
    c["gp chgnet"] = ("chgnet", dict(method="gp", residual=False))
    return c


ENSEMBLE = ("krr physical", "krr chgnet", "ridge chgnet+physical")


def all_names() -> list[str]:
    """Every candidate name of the full table."""
    return ["valence-mean baseline", "study1 ridge acsf", "study1 ridge soap-gto",
            *compact_candidates(), "ensemble (3 compact models)"]


class Runner:
    def __init__(self, dataset: str, with_study1: bool = True, with_gp: bool = True,
                 only: list[str] | None = None):
        """``only``: restrict the table to these candidate names (the baseline is always kept;
        the study-1 descriptors are computed only for the study-1 rows asked for)."""
        study1_kinds = ("acsf", "soap-gto")
        if only is not None:
            unknown = sorted(set(only) - set(all_names()))
            if unknown:
                raise SystemExit(f"unknown candidates: {unknown}; known: {all_names()}")
            study1_kinds = tuple(k for k in study1_kinds if f"study1 ridge {k}" in only)
            with_study1 = with_study1 and bool(study1_kinds)
        self.pools, self.pool, self.feats = load_inputs(dataset, compact_only=not with_study1,
                                                        study1_kinds=study1_kinds)
        self.cands = {k: v for k, v in compact_candidates().items() if v[0] in self.feats}
        if not with_gp:
            self.cands = {k: v for k, v in self.cands.items() if not k.startswith("gp")}
        self.study1 = {}
        if with_study1:
            from amorphxas.descriptors import fit_pca

            for kind in study1_kinds:
                p = self.pools[kind]
                self.study1[f"study1 ridge {kind}"] = (p, fit_pca(p.X_raw, 0.999, parameters=p.descriptor))
        self.only = only

    def names(self) -> list[str]:
        names = ["valence-mean baseline", *self.study1, *self.cands, "ensemble (3 compact models)"]
        if self.only is None:
            return names
        return [n for n in names if n == "valence-mean baseline" or n in self.only]

    def predict(self, name, tr, te, seed, cache=None):
        """(P, S or None) for test rows ``te`` of a model fitted on rows ``tr``."""
        cache = {} if cache is None else cache
        if name in cache:
            return cache[name]
        p = self.pool
        if name == "valence-mean baseline":
            out = (valence_mean_baseline(p.Y[tr], p.valence[tr], p.valence[te]), None)
        elif name in self.study1:
            pool, pca = self.study1[name]
            model, _ = evaluate_split(pool, tr, te, "direct", pca=pca, seed=seed)
            out = model.predict(pool.X_raw[te], return_std=True)
        elif name.startswith("ensemble"):
            members = [self.predict(m, tr, te, seed, cache) for m in ENSEMBLE]
            P = np.mean([m[0] for m in members], axis=0)
            var = np.mean([m[1] ** 2 for m in members], axis=0) + np.var([m[0] for m in members], axis=0)
            out = (P, np.sqrt(var))
        else:
            feat, kw = self.cands[name]
            X = self.feats[feat]
            est = CompactSpectrum(random_state=seed, **kw).fit(X[tr], p.Y[tr], groups=p.cell_id[tr])
            out = est.predict(X[te], return_std=True)
        cache[name] = out
        return out


def score(Y, P, S, base_P) -> dict:
    r, b = float(rmse_energy(Y, P).mean()), float(rmse_energy(Y, base_P).mean())
    out = {"rmse": r, "ratio": r / b}
    if S is not None:
        z = np.abs(Y - P) / np.maximum(S, 1e-300)
        out.update({"cov1": float(np.mean(z <= 1)), "cov2": float(np.mean(z <= 2))})
    return out


def _stat(values) -> dict:
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0}


def _summarise(per, cal, n_train, n_test) -> dict:
    rows = {}
    for name, scs in per.items():
        if not scs:
            continue
        row = {"rmse": _stat([s["rmse"] for s in scs]), "ratio": _stat([s["ratio"] for s in scs]),
               "cpu_s_per_fit": float(np.mean([s["cpu_s"] for s in scs]))}
        if "cov1" in scs[0]:
            row["within_1sigma"] = _stat([s["cov1"] for s in scs])
            row["within_2sigma"] = _stat([s["cov2"] for s in scs])
            Y, P, S, v = (np.concatenate(a) for a in cal[name])
            row["coverage_by_valence"] = coverage_by_valence(Y, P, S, v)
        rows[name] = row
    return {"n_seeds": len(n_train), "n_train": _stat(n_train), "n_test": _stat(n_test),
            "candidates": rows}


def benchmark(runner: Runner, seeds, splits=("random", "cell"), on_seed=None) -> dict:
    """{split: summary}; ``on_seed(partial)`` is called after every seed (partial results)."""
    p = runner.pool
    out = {}
    for split in splits:
        per = {n: [] for n in runner.names()}
        cal = {n: ([], [], [], []) for n in runner.names()}
        n_train, n_test = [], []
        for seed in seeds:
            tr, te = make_split(p, split, seed)
            n_train.append(tr.size)
            n_test.append(te.size)
            cache: dict = {}
            base = runner.predict("valence-mean baseline", tr, te, seed, cache)[0]
            for name in runner.names():
                t0 = time.process_time()
                P, S = runner.predict(name, tr, te, seed, cache)
                sc = score(p.Y[te], P, S, base)
                sc["cpu_s"] = time.process_time() - t0
                per[name].append(sc)
                if S is not None:
                    for lst, a in zip(cal[name], (p.Y[te], P, S, p.valence[te])):
                        lst.append(a)
            print(f"{split} seed {seed}: " + ", ".join(f"{n.split(' (')[0]} {per[n][-1]['ratio']:.3f}"
                                                       for n in per), flush=True)
            out[split] = _summarise(per, cal, n_train, n_test)
            if on_seed is not None:
                on_seed(out)
    return out


def learning_curve(runner: Runner, name: str, seeds, sizes=(20, 30, 40, 50, 60)) -> dict:
    """Ratio to the valence-mean baseline (same training rows) vs training size, cell split."""
    p = runner.pool
    res = {}
    for seed in seeds:
        tr, te = make_split(p, "cell", seed)
        rng = np.random.default_rng(1000 + seed)
        for n in [*sizes, tr.size]:
            if n > tr.size:
                continue
            sub = tr if n == tr.size else rng.choice(tr, n, replace=False)
            if np.unique(p.cell_id[sub]).size < 2:
                continue
            cache: dict = {}
            base = runner.predict("valence-mean baseline", sub, te, seed, cache)[0]
            P, _ = runner.predict(name, sub, te, seed, cache)
            key = "full" if n == tr.size else str(n)
            res.setdefault(key, []).append((sub.size, score(p.Y[te], P, None, base)["ratio"]))
    curve = {k: {"n_train": float(np.mean([a for a, _ in v])), "ratio": _stat([b for _, b in v])}
             for k, v in res.items()}
    n = np.array([c["n_train"] for c in curve.values()])
    r = np.array([c["ratio"]["mean"] for c in curve.values()])
    b, log_a = np.polyfit(np.log(n), np.log(r), 1)
    n75 = float(np.exp((np.log(0.75) - log_a) / b)) if b < 0 else None
    return {"points": curve, "fit": {"a": float(np.exp(log_a)), "b": float(b),
                                     "form": "ratio = a * n_train^b"},
            "n_train_for_0.75": n75, "n_seeds": len(seeds)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="a copy of the dataset (the campaign writes the shipped one)")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--curve-seeds", type=int, default=20)
    ap.add_argument("--no-gp", action="store_true")
    ap.add_argument("--sidecar", default=None, help="descriptor sidecar to use as it is")
    ap.add_argument("--curves-only", nargs="*", default=None,
                    help="only the learning curves of these candidates (names as in the table)")
    ap.add_argument("--splits", nargs="*", default=["random", "cell"],
                    help="run only these splits (learning curves need 'cell')")
    ap.add_argument("--merge", nargs="*", default=None,
                    help="merge result files of separate --splits runs into --out, then stop")
    ap.add_argument("--candidates", nargs="*", default=None,
                    help="run only these candidates (names as in the table; the baseline is always run)")
    ap.add_argument("--no-curves", action="store_true", help="skip the learning curves")
    ap.add_argument("-o", "--out", default="docs/figures/forward_models.json")
    args = ap.parse_args(argv)
    trust_sidecar(args.sidecar)
    if args.merge:
        parts = [json.load(open(f)) for f in args.merge]
        result = parts[0]
        for part in parts[1:]:
            result["splits"].update(part["splits"])
            for key in ("ranking_cell_split", "winner", "learning_curves"):
                if key in part:
                    result[key] = part[key]
        result["wall_s"] = sum(p["wall_s"] for p in parts)
        result["command"] = result["command"].replace(" --splits random", "").replace(" --splits cell", "")
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
        return 0
    t0 = time.time()
    runner = Runner(args.dataset, with_study1=not args.curves_only, with_gp=not args.no_gp,
                    only=args.candidates)
    p = runner.pool
    seeds = list(range(args.seeds))
    result = {"dataset": os.path.basename(args.dataset), "n_spectra": int(labelled_rows(p).size),
              "n_cells": int(np.unique(p.cell_id[labelled_rows(p)]).size), "n_pool": int(len(p.cell_id)),
              "command": "benchmarks/forward/bench_forward_models.py COPY.h5 --seeds "
                         f"{args.seeds} --curve-seeds {args.curve_seeds} --splits {' '.join(args.splits)}"
                         + (f" --candidates {' '.join(repr(c) for c in args.candidates)}"
                            if args.candidates else "") + (" --no-curves" if args.no_curves else "")}

    def write(partial=None):
        if partial is not None:
            result["splits"] = partial
        result["wall_s"] = time.time() - t0
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)

    if args.curves_only:
        result["learning_curves"] = {}
        for n in args.curves_only:
            result["learning_curves"][n] = learning_curve(runner, n, list(range(args.curve_seeds)))
            write()
        return 0
    result["splits"] = benchmark(runner, seeds, args.splits, on_seed=write)
    if "cell" not in args.splits:
        result["wall_s"] = time.time() - t0
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
        return 0
    cell = result["splits"]["cell"]["candidates"]
    ranked = sorted((n for n in cell if n != "valence-mean baseline"), key=lambda n: cell[n]["ratio"]["mean"])
    result["ranking_cell_split"] = ranked
    result["winner"] = ranked[0]
    result["learning_curves"] = {} if args.no_curves else {
        n: learning_curve(runner, n, list(range(args.curve_seeds))) for n in ranked[:3]}
    result["wall_s"] = time.time() - t0
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    for split in args.splits:
        rows = result["splits"][split]["candidates"]
        print(f"\n{split} split ({result['splits'][split]['n_seeds']} seeds, "
              f"{result['splits'][split]['n_test']['mean']:.1f} test sites):")
        for n in sorted(rows, key=lambda n: rows[n]["ratio"]["mean"]):
            r = rows[n]
            cov = (f"  cov {r['within_1sigma']['mean']:.3f}/{r['within_2sigma']['mean']:.3f}"
                   if "within_1sigma" in r else "")
            print(f"  {n:34s} rmse {r['rmse']['mean']:.4f} ratio {r['ratio']['mean']:.3f} "
                  f"+- {r['ratio']['std']:.3f}{cov}")
    for n, lc in result["learning_curves"].items():
        print(f"curve {n}: {lc['fit']}, n for 0.75: {lc['n_train_for_0.75']}")
    print(f"-> {args.out} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
