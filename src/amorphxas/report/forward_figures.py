"""Figures of the forward evaluation (:func:`amorphxas.forward.evaluate.evaluate_dataset`'s
report and :func:`amorphxas.forward.evaluate.ur_map`'s result); drawing only.

RMSEs are of the normalised spectra (the forward model's normalisation, dimensionless);
energies in eV on the common grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.forward.ridge import MODES
from amorphxas.report.plotting import VALENCE_COLOURS, figure, save, styled, valence_label

VALENCES = [str(v) for v in range(5)]


def figures(report: dict, outdir: str | Path) -> list[Path]:
    """forward_table.png (total RMSE per kind/mode/split with the valence-mean baseline),
    forward_rmse_energy.png (study 1 Eq. 7, direct mode), forward_rmse_valence.png (Fig. 5b,
    direct mode, random split), forward_extremes.png (Fig. 11) and forward_learning_curve.png
    (UR vs random, when computed), each with an SVG beside it. Returns the PNG paths."""
    outdir = Path(outdir)
    paths = [plot_table(report, outdir / "forward_table.png"),
             plot_rmse_energy(report, outdir / "forward_rmse_energy.png"),
             plot_rmse_valence(report, outdir / "forward_rmse_valence.png")]
    extremes = plot_extremes(report, outdir / "forward_extremes.png")
    if extremes is not None:
        paths.append(extremes)
    curve = plot_learning_curve(report, outdir / "forward_learning_curve.png")
    if curve is not None:
        paths.append(curve)
    return paths


@styled
def plot_table(report: dict, path: Path) -> Path:
    """Total RMSE (mean +- std over seeds) per descriptor kind and mode, random and cell split,
    with the valence-mean baseline as a black bar."""
    kinds = list(report["kinds"])
    modes = [m for m in MODES if m in report["kinds"][kinds[0]]["table"]["random"]]
    fig = figure(7.2, 3.4)
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / len(modes)
    x = np.arange(len(kinds))
    for ax, split in zip(axes, ("random", "cell")):
        for j, mode in enumerate(modes):
            vals = [report["kinds"][k]["table"][split][mode]["rmse_total"] for k in kinds]
            ax.bar(x + width * j, [v["mean"] or np.nan for v in vals], width,
                   yerr=[v["std"] or 0 for v in vals], label=mode)
        base = [report["kinds"][k]["table"][split]["direct"]["baseline_rmse_total"]["mean"] or np.nan
                for k in kinds]
        ax.scatter(x + width * (len(modes) - 1) / 2, base, color="k", marker="_", s=500, lw=2,
                   label="valence-mean baseline", zorder=3)
        ax.set_xticks(x + width * (len(modes) - 1) / 2, kinds, rotation=20)
        ax.set_title(f"{split} split")
    axes[0].set_ylabel("total RMSE (normalised intensity)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), frameon=False)
    return save(fig, path)


@styled
def plot_rmse_energy(report: dict, path: Path) -> Path:
    """RMSE per energy point, direct mode, mean over seeds, both splits, with the baseline."""
    kinds = list(report["kinds"])
    fig = figure(7.2, 3.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, split in zip(axes, ("random", "cell")):
        base_drawn = False
        for k in kinds:
            runs = [r for r in report["kinds"][k]["table"][split]["direct"]["runs"] if "error" not in r]
            if not runs:
                continue
            ax.plot(COMMON_GRID, np.mean([r["rmse_energy"] for r in runs], axis=0), label=k)
            if not base_drawn:
                ax.plot(COMMON_GRID, np.mean([r["baseline_rmse_energy"] for r in runs], axis=0),
                        "k:", label="valence-mean baseline")
                base_drawn = True
        ax.set(xlabel="energy (eV)", title=f"{split} split, direct mode")
        ax.set_xlim(COMMON_GRID[0], COMMON_GRID[-1])
    axes[0].set_ylabel("RMSE (normalised intensity)")
    axes[1].legend(frameon=False)
    return save(fig, path)


@styled
def plot_rmse_valence(report: dict, path: Path) -> Path:
    """Per-valence RMSE (mean +- std over seeds), random split, direct mode, each kind and the
    valence-mean baseline; tick labels count the test sites over all seeds."""
    kinds = list(report["kinds"])
    fig = figure(6.4, 3.2)
    ax = fig.subplots()
    width = 0.8 / (len(kinds) + 1)
    counts = None
    for j, k in enumerate(kinds + ["valence-mean baseline"]):
        baseline = j == len(kinds)
        entry = report["kinds"][kinds[0] if baseline else k]["table"]["random"]["direct"]
        key = "baseline_rmse_by_valence" if baseline else "rmse_by_valence"
        ax.bar(np.arange(5) + j * width, [entry[key][v]["mean"] or np.nan for v in VALENCES],
               width, yerr=[entry[key][v]["std"] or 0 for v in VALENCES], label=k,
               color="0.6" if baseline else None)
        runs = [r for r in entry["runs"] if "error" not in r]
        if runs and counts is None:
            counts = [sum(r["n_test_by_valence"][v] for r in runs) for v in VALENCES]
    labels = [valence_label(int(v)) + (f"\n({counts[int(v)]} test)" if counts else "") for v in VALENCES]
    ax.set_xticks(np.arange(5) + width * len(kinds) / 2, labels)
    ax.set_ylabel("RMSE (normalised intensity)")
    ax.legend(frameon=False)
    return save(fig, path)


@styled
def plot_extremes(report: dict, path: Path) -> Path | None:
    """Study 1 Fig. 11: per valence, the test sites of smallest (top) and largest (bottom) RMSE,
    DFT against the ridge prediction (first kind, direct mode, random split, first seed)."""
    kind = next(iter(report["kinds"]))
    runs = [r for r in report["kinds"][kind]["table"]["random"]["direct"]["runs"] if "extremes" in r]
    if not runs:
        return None
    ext = runs[0]["extremes"]
    valences = sorted(ext, key=int)
    fig = figure(7.2, 4.4)
    axes = fig.subplots(2, len(valences), squeeze=False, sharex=True, sharey=True)
    for j, v in enumerate(valences):
        only = ext[v]["best"]["site"] == ext[v]["worst"]["site"]
        for i, name in enumerate(("best", "worst")):
            ax = axes[i, j]
            if only and i == 1:
                ax.axis("off")
                continue
            e = ext[v][name]
            ax.plot(COMMON_GRID, e["true"], "k-", lw=1, label="DFT")
            ax.plot(COMMON_GRID, e["pred"], "--", color=VALENCE_COLOURS[int(v)], lw=1.2, label="ridge")
            ax.set_title(f"{valence_label(int(v))} {'only' if only else name}\nRMSE {e['rmse']:.3f}")
            ax.set_xlim(1835, 1865)
            ax.set_xticks([1840, 1860])
            if i == 1 or only:
                ax.set_xlabel("energy (eV)")
                ax.xaxis.set_tick_params(labelbottom=True)
    axes[0, 0].set_ylabel("intensity\n(normalised)")
    axes[1, 0].set_ylabel("intensity\n(normalised)")
    axes[0, 0].legend(frameon=False, loc="upper right")
    return save(fig, path)


@styled
def plot_learning_curve(report: dict, path: Path) -> Path | None:
    """Total RMSE on the fixed test sites vs the number of training sites, training sets grown by
    uncertainty reduction (UR, solid) and at random (dotted), mean +- std over seeds."""
    kinds = [k for k in report["kinds"] if "sizes" in report["kinds"][k].get("learning_curve", {})]
    if not kinds:  # e.g. --quick: no learning curves were computed
        return None
    fig = figure(7.2, 3.6)
    ax = fig.subplots()
    for n, k in enumerate(kinds):
        lc = report["kinds"][k]["learning_curve"]
        s = lc["sizes"]
        colour = f"C{n}"
        for name, style in (("ur", "-"), ("random", ":")):
            ax.errorbar(s, [lc[name][str(x)]["mean"] for x in s], [lc[name][str(x)]["std"] for x in s],
                        ls=style, color=colour, capsize=2, label=f"{k}, {'UR' if name == 'ur' else name}")
    ax.set_xscale("log")
    ax.set_xlabel("training sites")
    ax.set_ylabel("total RMSE on test sites\n(normalised intensity)")
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


@styled
def plot_ur_map(result: dict, path: Path) -> Path:
    """Study 1 Fig. 7a: the first ``n`` UR picks and ``n`` random picks (circled) over the pool's
    Si sites (coloured by valence) on the first two descriptor PCs, from
    :func:`amorphxas.forward.evaluate.ur_map`."""
    pc, valence = np.asarray(result["pc"]), np.asarray(result["valence"])
    ratio = result["explained_variance_ratio"]
    fig = figure(7.2, 3.4)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, (name, rows) in zip(axes, (("UR", result["ur_rows"]), ("random", result["random_rows"]))):
        colours = [VALENCE_COLOURS[v] if v < 5 else "0.5" for v in valence]
        ax.scatter(pc[:, 0], pc[:, 1], c=colours, s=8)
        ax.scatter(pc[rows, 0], pc[rows, 1], facecolors="none", edgecolors="k", s=40,
                   label=f"first {len(rows)} {name} picks")
        ax.set_xlabel(f"PC 1 ({ratio[0]:.0%} of the variance)")
        ax.legend(frameon=False, loc="upper right")
    axes[0].set_ylabel(f"PC 2 ({ratio[1]:.0%})")
    return save(fig, path)
