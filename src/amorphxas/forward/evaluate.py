"""Real-data evaluation of the forward models on whatever a dataset holds (re-run as it grows).

    python -m amorphxas.forward.evaluate [DATASET] --kinds soap-gto snap --preset fast \
        --seeds 0 1 2 -o results.json --figures docs/figures

Refuses (exit 2, one line) below :data:`~amorphxas.forward.model.MIN_SITES` site spectra. For each
descriptor kind, mode (direct, pca, nmf), split (random: study 1's valence-stratified test set;
cell: whole cells held out) and seed: total RMSE, per-valence RMSE, the valence-mean baseline,
calibration of the predictive std; mean and spread over seeds; every number with its site
counts. Learning curves (random split): training sets grown by UR and by random sampling from the
training part, RMSE on the fixed test part, and the smallest size where UR beats random.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from amorphxas.forward.active import select_ur
from amorphxas.forward.metrics import forward_metrics
from amorphxas.forward.model import (
    MIN_SITES,
    Pool,
    _cache_dir,
    evaluate_split,
    labelled_rows,
    load_pool,
    make_split,
)
from amorphxas.forward.ridge import MODES, ForwardError, RidgeSpectrum
from amorphxas.sites import MAX_VALENCE


def _summary(values) -> dict:
    v = np.asarray([x for x in values if x is not None], float)
    if v.size == 0:
        return {"mean": None, "std": None, "n_seeds": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "n_seeds": int(v.size)}


def table(pool: Pool, modes=MODES, splits=("random", "cell"), seeds=(0, 1, 2)) -> dict:
    """Table II for one descriptor kind: {split: {mode: summary over seeds}} plus per-seed runs."""
    from amorphxas.descriptors import fit_pca

    pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    out: dict = {}
    for split in splits:
        out[split] = {}
        for mode in modes:
            runs = []
            for seed in seeds:
                try:
                    tr, te = make_split(pool, split, seed)
                    model, m = evaluate_split(pool, tr, te, mode, pca=pca, seed=seed)
                except ForwardError as exc:
                    runs.append({"seed": seed, "error": str(exc)})
                    continue
                if mode == "direct" and seed == seeds[0]:
                    m["extremes"] = extremes(pool, te, model.predict(pool.X_raw[te]),
                                             np.asarray(m["rmse_site"]))
                m = {k: v for k, v in m.items() if k not in ("rmse_site",)}
                m["seed"] = seed
                runs.append(m)
            ok = [r for r in runs if "error" not in r]
            out[split][mode] = {
                "rmse_total": _summary(r["rmse_total"] for r in ok),
                "baseline_rmse_total": _summary(r["baseline_rmse_total"] for r in ok),
                "rmse_by_valence": {v: _summary(r["rmse_by_valence"][v] for r in ok)
                                    for v in map(str, range(5))},
                "baseline_rmse_by_valence": {v: _summary(r["baseline_rmse_by_valence"][v] for r in ok)
                                             for v in map(str, range(5))},
                "within_1sigma": _summary(r["calibration"]["within_1sigma"] for r in ok),
                "within_2sigma": _summary(r["calibration"]["within_2sigma"] for r in ok),
                "n_train": [r["n_train"] for r in ok], "n_test": [r["n_test"] for r in ok],
                "runs": runs,
            }
    return out


def extremes(pool: Pool, test_rows, Y_pred, rmse_site) -> dict:
    """Study 1 Fig. 11: per valence, the test sites of smallest and largest RMSE with their true
    and predicted spectra: {valence: {"best"|"worst": {"site", "rmse", "true", "pred"}}}."""
    out: dict = {}
    test_rows = np.asarray(test_rows)
    for v in range(MAX_VALENCE + 1):
        rows = np.flatnonzero(pool.valence[test_rows] == v)
        if rows.size == 0:
            continue
        out[str(v)] = {}
        ranked = rows[np.argsort(rmse_site[rows])]
        for name, k in (("best", ranked[0]), ("worst", ranked[-1])):
            i = test_rows[k]
            out[str(v)][name] = {"site": f"{pool.cell_id[i]}:{int(pool.atom_index[i])}",
                                 "rmse": float(rmse_site[k]), "true": pool.Y[i].tolist(),
                                 "pred": np.asarray(Y_pred[k]).tolist()}
    return out


def learning_curve(pool: Pool, seeds=(0, 1, 2), sizes=None, mode: str = "direct") -> dict:
    """RMSE on the fixed test part vs training size, training grown by UR and by random sampling.

    UR uses the whole pool's summed variance and candidates from the training part; both curves
    use one alpha per seed, the CV choice on the full training part (also used by UR)."""
    from amorphxas.descriptors import fit_pca

    pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    Z = pca.transform(pool.X_raw)
    curves = {"ur": [], "random": []}
    used_sizes = None
    for seed in seeds:
        tr, te = make_split(pool, "random", seed)
        if sizes is None:
            top = tr.size
            sizes_s = sorted({int(s) for s in np.unique(np.geomspace(4, top, 8).round()) if 2 <= s <= top})
        else:
            sizes_s = [s for s in sizes if s <= tr.size]
        used_sizes = sizes_s if used_sizes is None else [s for s in used_sizes if s in sizes_s]
        alpha = RidgeSpectrum(mode=mode, cv=min(5, tr.size), random_state=seed).fit(
            Z[tr], pool.Y[tr]).alpha_
        cand = np.zeros(len(Z), bool)
        cand[tr] = True
        order_ur = np.array(select_ur(Z, np.zeros(len(Z), bool), max(sizes_s), alpha, cand))
        order_ra = np.random.default_rng(seed).permutation(tr)
        for name, order in (("ur", order_ur), ("random", order_ra)):
            row = {}
            for s in sizes_s:
                rows = order[:s]
                est = RidgeSpectrum(mode=mode, alpha=alpha).fit(Z[rows], pool.Y[rows])
                m = forward_metrics(pool.Y[te], est.predict(Z[te]), pool.valence[te])
                row[s] = {"rmse_total": m["rmse_total"], "rmse_energy": m["rmse_energy"],
                          "rmse_by_valence": m["rmse_by_valence"],
                          "valence_counts": np.bincount(pool.valence[rows], minlength=5)[:5].tolist()}
            curves[name].append(row)
    result = {"sizes": used_sizes, "mode": mode, "n_test": int(te.size), "seeds": list(seeds)}
    for name in curves:
        result[name] = {str(s): _summary(c[s]["rmse_total"] for c in curves[name]) for s in used_sizes}
    wins = [s for s in used_sizes if result["ur"][str(s)]["mean"] < result["random"][str(s)]["mean"]]
    result["ur_beats_random_at"] = wins
    last = used_sizes[-1]
    result["delta_rmse_energy_at_largest"] = np.mean(  # Eq. 10, averaged over seeds
        [np.subtract(curves["ur"][k][last]["rmse_energy"], curves["random"][k][last]["rmse_energy"])
         for k in range(len(seeds))], axis=0).tolist()
    result["valence_counts_at_largest"] = {
        name: np.sum([c[last]["valence_counts"] for c in curves[name]], axis=0).tolist()
        for name in curves}
    return result


def evaluate_dataset(dataset=None, kinds=("soap-gto",), preset: str = "fast", modes=MODES,
                     splits=("random", "cell"), seeds=(0, 1, 2), curves: bool = True,
                     n_jobs: int = 1, descriptors_dir=None) -> dict:
    """Everything above for each kind, on a *copy* of ``dataset`` (default: the embedded one).

    Raises ForwardError (one line) if it holds fewer than MIN_SITES site spectra of valence 0..4.
    """
    from amorphxas.dataset import embedded_path, info

    src = Path(dataset) if dataset is not None else embedded_path()
    work = Path(tempfile.mkdtemp(prefix="amorphxas-forward-"))
    copy = work / src.name
    shutil.copy2(src, copy)  # the campaign may be writing the original
    summary = info(copy)
    report = {"dataset": str(src), "n_spectra": summary["n_sites"],
              "n_spectra_by_valence": summary["by_valence"],
              "n_spectra_by_composition": summary["by_composition"],
              "n_si_sites": summary["n_si_sites_analysed"], "n_cells": summary["n_cells"],
              "preset": preset, "seeds": list(seeds), "kinds": {}}
    n_usable = sum(summary["by_valence"][str(v)] for v in range(MAX_VALENCE + 1))
    if n_usable < MIN_SITES:
        raise ForwardError(f"{src}: {n_usable} site spectra of Si0..Si4+ (of "
                           f"{summary['n_si_sites_analysed']} Si sites); the forward evaluation "
                           f"needs at least {MIN_SITES}")
    for kind in kinds:
        t0 = time.perf_counter()
        # descriptors are cached (default ~/.cache/amorphxas) and recomputed only when the sites change
        cache = Path(descriptors_dir) if descriptors_dir is not None else _cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        sidecar = cache / f"{copy.stem}.{preset}.descriptors.h5"
        pool = load_pool(copy, kind, preset, sidecar, n_jobs)
        entry = {"n_labelled": int(labelled_rows(pool).size), "n_pool": int(len(pool.cell_id)),
                 "n_cells_with_spectra": int(np.unique(pool.cell_id[pool.has_spectrum]).size),
                 "normalisation": pool.normalisation, "scale": pool.scale,
                 "descriptor_dim": int(pool.X_raw.shape[1])}
        entry["table"] = table(pool, modes, splits, seeds)
        if curves:
            try:
                entry["learning_curve"] = learning_curve(pool, seeds)
            except ForwardError as exc:
                entry["learning_curve"] = {"error": str(exc)}
        entry["seconds"] = time.perf_counter() - t0
        report["kinds"][kind] = entry
    shutil.rmtree(work, ignore_errors=True)
    return report


def figures(report: dict, outdir) -> list[Path]:
    """forward_table.png (RMSE per kind/mode/split with the baseline),
    forward_rmse_energy.png (study 1 Eq. 7, direct mode), forward_rmse_valence.png (Fig. 5b,
    direct mode, random split) and forward_learning_curve.png (UR vs random) from a report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    kinds = list(report["kinds"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, split in zip(axes, ("random", "cell")):
        for j, mode in enumerate(MODES):
            vals = [report["kinds"][k]["table"][split][mode]["rmse_total"] for k in kinds]
            ax.bar(np.arange(len(kinds)) + 0.2 * j, [v["mean"] or np.nan for v in vals], 0.2,
                   yerr=[v["std"] or 0 for v in vals], label=mode)
        base = [report["kinds"][k]["table"][split]["direct"]["baseline_rmse_total"]["mean"] or np.nan
                for k in kinds]
        ax.scatter(np.arange(len(kinds)) + 0.2, base, color="k", marker="_", s=400, label="valence mean")
        ax.set_xticks(np.arange(len(kinds)) + 0.2, kinds, rotation=30)
        ax.set_title(f"{split} split ({report['n_spectra']} spectra)")
    axes[0].set_ylabel("total RMSE (normalised)")
    axes[0].legend(fontsize=8)
    paths.append(_save(fig, outdir / "forward_table.png"))
    paths.extend(_error_figures(report, outdir, plt))
    with_curves = [k for k in kinds if "sizes" in report["kinds"][k].get("learning_curve", {})]
    if not with_curves:  # e.g. --quick: no learning curves were computed
        return paths
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for k in with_curves:
        lc = report["kinds"][k]["learning_curve"]
        s = lc["sizes"]
        for name, style in (("ur", "-"), ("random", ":")):
            ax.errorbar(s, [lc[name][str(x)]["mean"] for x in s], [lc[name][str(x)]["std"] for x in s],
                        ls=style, label=f"{k} {name}")
    ax.set_xlabel("training sites")
    ax.set_ylabel("total RMSE on test sites")
    ax.set_title(f"UR vs random ({report['n_spectra']} spectra)")
    ax.legend(fontsize=7)
    paths.append(_save(fig, outdir / "forward_learning_curve.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _error_figures(report: dict, outdir: Path, plt) -> list[Path]:
    """RMSE(E) per energy point and RMSE per valence class, direct mode, mean over seeds."""
    from amorphxas.core.spectrum import COMMON_GRID

    kinds = list(report["kinds"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, split in zip(axes, ("random", "cell")):
        base_drawn = False
        for k in kinds:
            runs = [r for r in report["kinds"][k]["table"][split]["direct"]["runs"] if "error" not in r]
            if not runs:
                continue
            ax.plot(COMMON_GRID, np.mean([r["rmse_energy"] for r in runs], axis=0), label=k)
            if not base_drawn:
                ax.plot(COMMON_GRID, np.mean([r["baseline_rmse_energy"] for r in runs], axis=0),
                        "k:", label="valence mean")
                base_drawn = True
        ax.set(xlabel="energy (eV)", title=f"RMSE(E), {split} split, direct "
                                            f"({report['n_spectra']} spectra)")
    axes[0].set_ylabel("RMSE (normalised)")
    axes[0].legend(fontsize=7)
    paths = [_save(fig, outdir / "forward_rmse_energy.png")]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    width = 0.8 / (len(kinds) + 1)
    valences = [str(v) for v in range(MAX_VALENCE + 1)]
    counts = None
    for j, k in enumerate(kinds + ["valence mean"]):
        entry = report["kinds"][kinds[0] if k == "valence mean" else k]["table"]["random"]["direct"]
        key = "baseline_rmse_by_valence" if k == "valence mean" else "rmse_by_valence"
        ax.bar(np.arange(5) + j * width, [entry[key][v]["mean"] or np.nan for v in valences],
               width, yerr=[entry[key][v]["std"] or 0 for v in valences], label=k,
               color="0.6" if k == "valence mean" else None)
        runs = [r for r in entry["runs"] if "error" not in r]
        if runs and counts is None:
            counts = [sum(r["n_test_by_valence"][v] for r in runs) for v in valences]
    labels = [f"Si{v}+" + (f"\n({counts[int(v)]} test)" if counts else "") for v in valences]
    ax.set_xticks(np.arange(5) + 0.4 - width / 2, labels)
    ax.set(ylabel="RMSE (normalised)", title="per-valence RMSE, random split, direct\n"
                                             "(test sites counted over all seeds)")
    ax.legend(fontsize=7)
    paths.append(_save(fig, outdir / "forward_rmse_valence.png"))
    kind = kinds[0]
    runs = [r for r in report["kinds"][kind]["table"]["random"]["direct"]["runs"] if "extremes" in r]
    if runs:
        ext = runs[0]["extremes"]
        valences = sorted(ext, key=int)
        fig, axes = plt.subplots(2, len(valences), figsize=(2.6 * len(valences), 4.6), squeeze=False,
                                 sharex=True)
        for j, v in enumerate(valences):
            only = ext[v]["best"]["site"] == ext[v]["worst"]["site"]
            if only:
                axes[1, j].axis("off")
            for i, name in enumerate(("only test site",) if only else ("best", "worst")):
                e = ext[v]["best" if i == 0 else "worst"]
                ax = axes[i, j]
                ax.plot(COMMON_GRID, e["true"], "k-", lw=1, label="DFT")
                ax.plot(COMMON_GRID, e["pred"], "r--", lw=1, label="ridge")
                ax.set_title(f"Si{v}+ {name}: {e['site']}\nRMSE {e['rmse']:.3f}", fontsize=7)
                ax.set_xlim(1835, 1865)
                ax.tick_params(labelsize=6)
        axes[0, 0].legend(fontsize=6)
        fig.suptitle(f"{kind}, direct, random split seed {runs[0]['seed']}: smallest and largest "
                     f"test error per valence ({runs[0]['n_test']} test sites)", fontsize=8)
        paths.append(_save(fig, outdir / "forward_extremes.png"))
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amorphxas.forward.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default=None)
    parser.add_argument("--kinds", nargs="+", default=["soap-gto"])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--no-curves", action="store_true")
    parser.add_argument("-o", "--output", default=None, help="JSON report")
    parser.add_argument("--figures", default=None, help="directory for forward_*.png")
    args = parser.parse_args(argv)
    try:
        report = evaluate_dataset(args.dataset, args.kinds, args.preset, seeds=args.seeds,
                                  curves=not args.no_curves)
    except ForwardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1))
    if args.figures:
        figures(report, args.figures)
    print(f"{report['n_spectra']} site spectra ({report['n_spectra_by_valence']}), "
          f"{report['n_cells']} cells, preset {args.preset}")
    for kind, entry in report["kinds"].items():
        for split, modes in entry["table"].items():
            for mode, m in modes.items():
                r, b = m["rmse_total"], m["baseline_rmse_total"]
                if r["mean"] is None:
                    print(f"{kind:14s} {split:6s} {mode:6s}: {m['runs'][0].get('error')}")
                    continue
                print(f"{kind:14s} {split:6s} {mode:6s} RMSE {r['mean']:.4f} +- {r['std']:.4f} "
                      f"(baseline {b['mean']:.4f}; n_train {m['n_train']}, n_test {m['n_test']}, "
                      f"1s {m['within_1sigma']['mean']:.2f}, 2s {m['within_2sigma']['mean']:.2f})")
        lc = entry.get("learning_curve", {})
        if "sizes" in lc:
            print(f"{kind}: UR beats random at training sizes {lc['ur_beats_random_at']} of {lc['sizes']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def ur_map(dataset=None, kind: str = "soap-gto", preset: str = "fast", n: int = 40,
           alpha: float = 1.0, seed: int = 0, out=None) -> dict:
    """Study 1 Fig. 7 without spectra: the first ``n`` UR picks vs ``n`` random picks over the
    dataset's pool (every Si site, valence 0..4 candidates), on the first two descriptor PCs, and
    their valence counts. Needs no spectra; uses a copy of the dataset."""
    from amorphxas.dataset import embedded_path
    from amorphxas.descriptors import fit_pca
    from amorphxas.forward.active import select_random

    src = Path(dataset) if dataset is not None else embedded_path()
    work = Path(tempfile.mkdtemp(prefix="amorphxas-urmap-"))
    copy = work / src.name
    shutil.copy2(src, copy)
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    pool = load_pool(copy, kind, preset, cache / f"{copy.stem}.{preset}.descriptors.h5")
    pca = fit_pca(pool.X_raw, 0.999, parameters=pool.descriptor)
    Z = pca.transform(pool.X_raw)
    cand = pool.valence <= MAX_VALENCE
    ur = select_ur(Z, pool.has_spectrum, n, alpha, cand)
    ra = select_random(pool.has_spectrum, n, seed, cand)
    counts = {name: np.bincount(pool.valence[idx], minlength=5)[:5].tolist()
              for name, idx in (("ur", ur), ("random", ra))}
    counts["pool"] = np.bincount(pool.valence[cand], minlength=5)[:5].tolist()
    result = {"kind": kind, "preset": preset, "n_pool": int(len(Z)), "n_candidates": int(cand.sum()),
              "n_descriptor_pcs": int(pca.n_components), "alpha": alpha, "n": n,
              "valence_counts": counts, "n_spectra": pool.n_spectra}
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharex=True, sharey=True)
        for ax, (name, idx) in zip(axes, (("UR", ur), ("random", ra))):
            sc = ax.scatter(Z[:, 0], Z[:, 1], c=pool.valence, cmap="viridis", s=8, vmin=0, vmax=5)
            ax.scatter(Z[idx, 0], Z[idx, 1], facecolors="none", edgecolors="r", s=40, label=f"{name} ({n})")
            ax.set_xlabel(f"PC1 ({pca.explained_variance_ratio[0]:.0%})")
            ax.set_title(f"{kind} ({preset}): first {n} {name} picks")
            ax.legend(fontsize=8, loc="upper right")
        axes[0].set_ylabel(f"PC2 ({pca.explained_variance_ratio[1]:.0%})")
        fig.colorbar(sc, ax=axes, label="valence (O neighbours)")
        fig.savefig(out, dpi=120)
        plt.close(fig)
        result["figure"] = str(out)
    shutil.rmtree(work, ignore_errors=True)
    return result
