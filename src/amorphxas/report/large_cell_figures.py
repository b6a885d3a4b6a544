"""Figures of the large-cell analysis (:mod:`amorphxas.forward.large_cells`); drawing only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.report.plotting import OKABE_ITO, VALENCE_COLOURS, figure, save, styled, valence_label


@styled
def plot_large_models(results: list[dict], path: Path) -> Path:
    """Per large cell (one column each): the forward model's mean predicted spectrum (band: mean
    per-site predictive std) against the random-mixture curves (DFT references and, if present,
    the model's predictions for the two crystals) and the valence-weighted DFT curve (top), and
    the cell's Si0..Si4+ fractions against the two structural models (bottom)."""
    n = len(results)
    fig = figure(7.2, 5.4)
    axes = fig.subplots(2, n, squeeze=False, sharey="row")
    for k, r in enumerate(results):
        ax = axes[0, k]
        ax.plot(r["energy"], r["predicted_mean"], "k-", label="forward model, mean over the cell's Si")
        ax.fill_between(r["energy"], r["predicted_mean"] - r["predicted_std_mean"],
                        r["predicted_mean"] + r["predicted_std_mean"], color="0.8", lw=0)
        ax.plot(r["energy"], r["mixture_spectrum"], "--", color=OKABE_ITO[3],
                label="(1-x/2) c-Si + (x/2) quartz, DFT")
        if r.get("mixture_predicted") is not None:
            ax.plot(r["energy"], r["mixture_predicted"], "-.", color=OKABE_ITO[4],
                    label="(1-x/2) c-Si + (x/2) quartz, model predictions")
        if r["valence_weighted_dft"] is not None:
            ax.plot(r["energy"], r["valence_weighted_dft"], ":", color=OKABE_ITO[0],
                    label="valence-weighted DFT means")
        ax.set_xlim(1835, 1860)
        ax.set_title(f"x = {r['x']:.2f}, {r['n_si']} Si")
        ax.set_xlabel("energy (eV)")
        ax = axes[1, k]
        v = np.arange(len(r["valence_fractions"]))
        ax.bar(v - 0.27, r["valence_fractions"], 0.27, color=VALENCE_COLOURS, label="cell")
        ax.bar(v, r["random_bonding"], 0.27, color="0.45", label="random bonding")
        ax.bar(v + 0.27, r["random_mixture"], 0.27, color="0.8", label="random mixture")
        ax.set_xticks(v, [valence_label(int(n)) for n in v], rotation=90)
    axes[0, 0].set_ylabel("intensity (model normalisation)")
    axes[1, 0].set_ylabel("fraction of Si sites")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=2, frameon=False)
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    return save(fig, path)


@styled
def plot_pca_map(dataset_map: dict, results: list[dict], path: Path) -> Path:
    """Study 1 Fig. 12b: the dataset's Si sites (``dataset_map`` from
    :func:`amorphxas.forward.large_cells.dataset_pca_map`, coloured by valence, those with a DFT
    spectrum circled) and the large cells' sites (``results[k]["pc"]``, grey) on the first two
    descriptor-PCA axes of the forward model (for the compact model: its domain-check space)."""
    pc, valence, has = dataset_map["pc"], dataset_map["valence"], dataset_map["has_spectrum"]
    fig = figure(7.2, 4.2)
    ax = fig.subplots()
    markers = ["x", "+", "1", "2", "3"]
    for k, r in enumerate(results):
        ax.scatter(r["pc"][:, 0], r["pc"][:, 1], s=8, c="0.7", marker=markers[k % len(markers)],
                   lw=0.6, label=f"large cell x = {r['x']:.2f} ({r['n_si']} Si)")
    for v in range(len(VALENCE_COLOURS)):  # Si0..Si4+; over-coordinated sites are not drawn
        rows = valence == v
        ax.scatter(pc[rows, 0], pc[rows, 1], s=10, color=VALENCE_COLOURS[v],
                   label=f"dataset {valence_label(v)}")
    ax.scatter(pc[has, 0], pc[has, 1], s=60, facecolors="none", edgecolors="k", lw=0.8,
               label=f"with DFT spectrum ({int(has.sum())})")
    ax.set_xlabel("descriptor PC 1 (arb. units)")
    ax.set_ylabel("descriptor PC 2 (arb. units)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return save(fig, path)
