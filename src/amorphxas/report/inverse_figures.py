"""Figures of the inverse evaluation (study 2 Figs. 3-8 where the data support them) and of one
inversion; drawing only, from :func:`amorphxas.inverse.evaluate_dataset`'s report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.report.plotting import OKABE_ITO, figure, save, styled

#: axis label of each scalar target, with its unit
TARGET_LABELS = {"valence": "Si valence (O neighbours)", "charge": "Bader charge (e)"}


def plot_inverse(report: dict, out: Path) -> list[Path]:
    """Figures of :func:`amorphxas.inverse.evaluate_dataset`'s report, written to ``out``.

    ``inverse_parity_<target>.png`` (valence/charge, both splits, with the ensemble std),
    ``inverse_rdf.png`` (sorted per-site RMSE and examples with their band),
    ``inverse_windows.png`` (study 2 Figs. 5-6) and ``inverse_averaged.png``
    (cell-averaged spectra -> mean valence/charge, study 2 Fig. 7), each with an SVG beside it.
    Targets that were refused or not trained draw nothing. Returns the PNG paths written.
    """
    out = Path(out)
    written = [p for target in ("valence", "charge") if (p := plot_parity(report, target, out))]
    for p in (plot_rdf(report, out / "inverse_rdf.png"), plot_windows(report, out / "inverse_windows.png"),
              plot_averaged(report, out / "inverse_averaged.png")):
        if p is not None:
            written.append(p)
    return written


@styled
def plot_parity(report: dict, target: str, out: Path) -> Path | None:
    """Predicted against DFT ``target`` per site (test sites with the ensemble std), both splits."""
    entry = report["targets"].get(target, {})
    panels = [(s, entry[s]) for s in ("random", "cell") if "parity" in entry.get(s, {})]
    if not panels:
        return None
    fig = figure(3.4 * len(panels), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    label = TARGET_LABELS[target]
    for ax, (split, m) in zip(axes, panels):
        p = m["parity"]
        ax.scatter(p["train_true"], p["train_pred"], s=8, c="0.7", label="training sites")
        ax.errorbar(p["test_true"], p["test_pred"], yerr=p["test_std"], fmt="o", ms=4, lw=0.8,
                    color=OKABE_ITO[1], label="test sites (+- ensemble std)")
        lo = min(p["train_true"] + p["test_true"]) - 0.3
        hi = max(p["train_true"] + p["test_true"]) + 0.3
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(xlabel=f"DFT {label}", title=f"{split} split: RMSE {m['rmse']:.2f}, R² {m['r2']:.2f}")
    axes[0].set_ylabel(f"predicted {label}")
    axes[0].legend(frameon=False, loc="upper left")
    return save(fig, out / f"inverse_parity_{target}.png")


@styled
def plot_rdf(report: dict, path: Path) -> Path | None:
    """Sorted per-site RDF RMSE (first panel) and example test sites (true, predicted, ensemble
    band), random split, on a 2 x 4 grid."""
    rdf = report["targets"].get("rdf", {}).get("random", {})
    if "rdf_examples" not in rdf:
        return None
    ex = rdf["rdf_examples"]
    r = np.asarray(ex["r"])
    n = len(ex["true"])
    cols = 4
    rows = int(np.ceil((n + 1) / cols))
    fig = figure(7.2, 2.3 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    axes[0].plot(rdf["per_site_rmse_sorted"], "o-", ms=3, color=OKABE_ITO[0])
    axes[0].set(xlabel="test site (sorted)", ylabel="RDF RMSE", title="all test sites")
    for ax, t, p, s in zip(axes[1:], ex["true"], ex["pred"], ex["std"]):
        p, s = np.asarray(p), np.asarray(s)
        ax.plot(r, t, color="k", lw=1, label="DFT cell")
        ax.plot(r, p, color=OKABE_ITO[3], lw=1, label="predicted")
        ax.fill_between(r, p - s, p + s, color=OKABE_ITO[3], alpha=0.25, lw=0)
        ax.set(xlabel="R (Angstrom)", ylabel="g(R)",
               title=f"RMSE {np.sqrt(np.mean((np.asarray(t) - p) ** 2)):.2f}")
    for ax in axes[n + 1:]:
        ax.axis("off")
    axes[1].legend(frameon=False)
    return save(fig, path)


@styled
def plot_windows(report: dict, path: Path) -> Path | None:
    """Test RMSE of networks retrained on each energy window (random split), one panel per target;
    each bar is labelled with its window's energies (eV)."""
    panels = [(t, report["targets"][t]["windows"]) for t in ("valence", "charge", "rdf")
              if isinstance(report["targets"].get(t, {}).get("windows"), list)]
    if not panels:
        return None
    fig = figure(7.2, 2.6 * len(panels))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for ax, (target, rows) in zip(axes, panels):
        names = [f"{w['window']}: {w['e_min']:.0f}-{w['e_max']:.0f}" for w in rows]
        ax.bar(names, [w["rmse"] for w in rows], color=OKABE_ITO[0])
        unit = {"valence": "test RMSE (O neighbours)", "charge": "test RMSE (e)", "rdf": "test RMSE of g(R)"}
        ax.set(ylabel=unit[target], title=f"{target} (n_test {rows[0]['n_test']})")
    axes[-1].set_xlabel("energy window (eV)")
    axes[-1].tick_params(axis="x", labelrotation=90)
    return save(fig, path)


@styled
def plot_averaged(report: dict, path: Path) -> Path | None:
    """Mean valence/charge predicted from cell-averaged spectra against the cell means of the DFT
    targets: the random-split model on all cells (whose sites it mostly trained on) and the
    cell-split model on its held-out cells only."""
    averaged = []
    for target in ("valence", "charge"):
        for split, key, label in (("random", "averaged_all_cells", "all cells"),
                                  ("cell", "averaged_test_cells", "held-out cells")):
            entry = report["targets"].get(target, {}).get(split, {})
            if key in entry:
                averaged.append((target, f"{split}-split model,\n{label}", entry[key]))
    if not averaged:
        return None
    cols = min(2, len(averaged))
    rows = int(np.ceil(len(averaged) / cols))
    fig = figure(7.2, 3.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (target, label, a) in zip(axes, averaged):
        true = [c["true"] for c in a["cells"]]
        ax.errorbar(true, [c["pred"] for c in a["cells"]], yerr=[c["std"] for c in a["cells"]],
                    fmt="o", ms=4, color=OKABE_ITO[0])
        lo, hi = min(true) - 0.3, max(true) + 0.3
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(xlabel=f"cell mean {TARGET_LABELS[target]}", ylabel="network, cell-averaged spectrum",
               title=f"{label}: {a['n_cells']} cells, RMSE {a['rmse']:.2f}")
    for ax in axes[len(averaged):]:
        ax.axis("off")
    return save(fig, path)


@styled
def plot_inversion(result: dict, path: Path) -> Path:
    """The figure of one inversion (:func:`amorphxas.inverse.invert_spectrum`'s result): the
    normalised spectrum as the model saw it, and the prediction: the RDF with its ensemble band,
    or the valence/charge with its uncertainty and, for valence models, the Si0..Si4+ fractions
    of the linear-combination fit."""
    fig = figure(7.2, 3.2)
    left, right = fig.subplots(1, 2)
    left.plot(COMMON_GRID, result["normalised_spectrum"], c="k")
    lo, hi = result["window"]
    left.axvspan(lo, hi, color=OKABE_ITO[0], alpha=0.08, label=f"model window {lo:.0f}-{hi:.0f} eV")
    left.set(xlabel="energy (eV)", ylabel="intensity (normalised)", title="input spectrum")
    left.legend(frameon=False)
    if result["target"] == "rdf":
        r, value, std = (np.asarray(result[k]) for k in ("r", "value", "std"))
        right.plot(r, value, c=OKABE_ITO[3])
        right.fill_between(r, value - std, value + std, color=OKABE_ITO[3], alpha=0.25,
                           label=f"ensemble std ({result['n_members']} members)")
        right.set(xlabel="R (Angstrom)", ylabel="g(R)", title="predicted RDF of the absorbers")
        right.legend(frameon=False)
    elif "valence_fractions" in result:
        names = list(result["valence_fractions"])
        right.bar(names, [result["valence_fractions"][n] for n in names], color=OKABE_ITO[0])
        right.set(ylabel="fraction (linear-combination fit)", ylim=(0, 1),
                  title=f"mean valence: network {result['value']:.2f} +- {result['std']:.2f}, "
                        f"LCF {result['lcf_mean_valence']:.2f}")
    else:
        right.errorbar([0], [result["value"]], yerr=[result["std"]], fmt="o", label="network")
        for k, (name, v) in enumerate(result.get("baseline", {}).items(), start=1):
            right.plot([k], [v], "s", label=f"{name} baseline")
        right.set(xticks=[], ylabel=TARGET_LABELS.get(result["target"], result["target"]),
                  title=f"predicted {result['target']}")
        right.legend(frameon=False)
    return save(fig, Path(path))
