"""Figures of the inverse evaluation (study 2 Figs. 3-8 where the data support them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _save(fig, path: Path, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_inverse(report: dict, out: Path) -> list[Path]:
    """Figures of :func:`amorphxas.inverse.evaluate_dataset`'s report, written to ``out``.

    ``inverse_parity_<target>.png`` (valence/charge, both splits, with the ensemble std),
    ``inverse_rdf.png`` (sorted per-site RMSE and examples with their band),
    ``inverse_windows_<target>.png`` (study 2 Figs. 5-6) and ``inverse_averaged.png``
    (cell-averaged spectra -> mean valence/charge, study 2 Fig. 7). Targets that were refused
    or not trained draw nothing. Returns the paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for target in ("valence", "charge"):
        entry = report["targets"].get(target, {})
        panels = [(s, entry[s]) for s in ("random", "cell") if "parity" in entry.get(s, {})]
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4), squeeze=False)
        for ax, (split, m) in zip(axes[0], panels):
            p = m["parity"]
            ax.scatter(p["train_true"], p["train_pred"], s=8, c="0.7", label="train")
            ax.errorbar(p["test_true"], p["test_pred"], yerr=p["test_std"], fmt="o", ms=4,
                        c="tab:orange", label="test")
            lo = min(p["train_true"] + p["test_true"]) - 0.3
            hi = max(p["train_true"] + p["test_true"]) + 0.3
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set(xlabel=f"true {target}", ylabel=f"predicted {target}",
                   title=f"{split} split: RMSE {m['rmse']:.3f}, R2 {m['r2']:.3f}\n"
                         f"n_train {m['n_train']}, n_test {m['n_test']} "
                         f"(baseline {m.get('baseline_rmse', float('nan')):.3f})")
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7)
        written.append(_save(fig, out / f"inverse_parity_{target}.png", 120))
    rdf = report["targets"].get("rdf", {}).get("random", {})
    if "rdf_examples" in rdf:
        ex = rdf["rdf_examples"]
        r = np.asarray(ex["r"])
        n = len(ex["true"])
        fig, axes = plt.subplots(1, n + 1, figsize=(3 * (n + 1), 3))
        axes[0].plot(rdf["per_site_rmse_sorted"], "o-", ms=3)
        axes[0].set(xlabel="test site (sorted)", ylabel="RDF RMSE", title="sorted RMSE")
        for ax, t, p, s in zip(axes[1:], ex["true"], ex["pred"], ex["std"]):
            p, s = np.asarray(p), np.asarray(s)
            ax.plot(r, t, c="lightcoral", label="true")
            ax.plot(r, p, c="darkred", label="predicted")
            ax.fill_between(r, p - s, p + s, color="darkred", alpha=0.2)
            ax.set(xlabel="R (Angstrom)", ylabel="g(R)")
        axes[1].legend(fontsize=7)
        written.append(_save(fig, out / "inverse_rdf.png", 110))
    for target in ("valence", "charge", "rdf"):
        rows = report["targets"].get(target, {}).get("windows")
        if not isinstance(rows, list):
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([w["window"] for w in rows], [w["rmse"] for w in rows])
        ax.set(ylabel="test RMSE", title=f"{target}: energy windows (random split, "
                                           f"n_test {rows[0]['n_test']})")
        written.append(_save(fig, out / f"inverse_windows_{target}.png", 110))
    # the cell-split model on its test cells only (unseen samples); the random-split model on all
    # cells, whose sites it mostly trained on
    averaged = []
    for target in ("valence", "charge"):
        for split, key, label in (("random", "averaged_all_cells", "all cells"),
                                  ("cell", "averaged_test_cells", "test cells")):
            entry = report["targets"].get(target, {}).get(split, {})
            if key in entry:
                averaged.append((target, f"{split}-split model, {label}", entry[key]))
    if averaged:
        fig, axes = plt.subplots(1, len(averaged), figsize=(4 * len(averaged), 3.8), squeeze=False)
        for ax, (target, label, a) in zip(axes[0], averaged):
            true = [c["true"] for c in a["cells"]]
            ax.errorbar(true, [c["pred"] for c in a["cells"]], yerr=[c["std"] for c in a["cells"]],
                        fmt="o", ms=4)
            lo, hi = min(true) - 0.3, max(true) + 0.3
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set(xlabel=f"cell mean {target} (sites with spectra)",
                   ylabel="predicted from the cell-averaged spectrum",
                   title=f"{target}, {label}: {a['n_cells']} cells, {a['n_sites']} sites\n"
                         f"RMSE {a['rmse']:.3f} (linear baseline {a.get('baseline_rmse', float('nan')):.3f}"
                         + (f", LCF {a['lcf_rmse']:.3f})" if "lcf_rmse" in a else ")"))
            ax.title.set_fontsize(8)
        written.append(_save(fig, out / "inverse_averaged.png", 110))
    return written


def plot_inversion(result: dict, path: Path) -> Path:
    """The figure of one inversion (:func:`amorphxas.inverse.invert_spectrum`'s result): the
    normalised spectrum as the model saw it, and the prediction: the RDF with its ensemble band,
    or the valence/charge with its uncertainty and, for valence models, the Si0..Si4+ fractions
    of the linear-combination fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from amorphxas.core.spectrum import COMMON_GRID

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.plot(COMMON_GRID, result["normalised_spectrum"], c="k")
    lo, hi = result["window"]
    left.axvspan(lo, hi, color="tab:blue", alpha=0.08, label="model window")
    left.set(xlabel="energy (eV)", ylabel="normalised intensity", title="input spectrum")
    left.legend(fontsize=7)
    if result["target"] == "rdf":
        r, value, std = (np.asarray(result[k]) for k in ("r", "value", "std"))
        right.plot(r, value, c="darkred")
        right.fill_between(r, value - std, value + std, color="darkred", alpha=0.2,
                           label=f"ensemble std ({result['n_members']} members)")
        right.set(xlabel="R (Angstrom)", ylabel="g(R)", title="predicted RDF of the absorbers")
        right.legend(fontsize=7)
    elif "valence_fractions" in result:
        names = list(result["valence_fractions"])
        right.bar(names, [result["valence_fractions"][n] for n in names], color="tab:blue")
        right.set(ylabel="fraction (linear-combination fit)", ylim=(0, 1),
                  title=f"mean valence: network {result['value']:.2f} +- {result['std']:.2f}, "
                        f"LCF {result['lcf_mean_valence']:.2f}")
        right.title.set_fontsize(9)
    else:
        right.errorbar([0], [result["value"]], yerr=[result["std"]], fmt="o", label="network")
        for k, (name, v) in enumerate(result.get("baseline", {}).items(), start=1):
            right.plot([k], [v], "s", label=f"{name} baseline")
        right.set(xticks=[], ylabel=result["target"], title=f"predicted {result['target']}")
        right.legend(fontsize=7)
    return _save(fig, Path(path), 120)
