"""Figures of the dataset, drawn from what the pipeline computed (no computation here).

Every figure states the number of sites it rests on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.report.plotting import (
    OVER_COORDINATED_COLOUR,
    VALENCE_COLOURS,
    figure,
    save,
    styled,
    valence_label,
)


@styled
def plot_references_and_valences(energy: np.ndarray, means: dict[int, tuple[np.ndarray, int]],
                                 references: dict[str, tuple[np.ndarray, np.ndarray]],
                                 path: Path) -> Path:
    """Per-valence mean site spectra (``means``: {valence: (mean (n_energy,), n_sites)} on
    ``energy`` (eV)) and the crystal references ({name: (energy (eV), intensity)}), study 1
    Fig. 4 analogue. The valence means share one scale (largest mean maximum = 1); each
    reference is scaled to its own maximum."""
    fig = figure(7.2, 3.6)
    ax = fig.subplots()
    scale = max((m.max() for m, _ in means.values()), default=1.0)
    for v, (mean, n) in sorted(means.items()):
        ax.plot(energy, mean / scale, color=VALENCE_COLOURS[v], label=f"{valence_label(v)} mean (n = {n})")
    for (name, (e, intensity)), style in zip(references.items(), ("--", ":")):
        ax.plot(e, intensity / intensity.max(), color="k", ls=style,
                label=f"{name} crystal\n(own maximum = 1)")
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel("intensity (arb. units)")
    ax.set_xlim(energy[0], energy[-1])
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


@styled
def plot_bader_vs_valence(valence: np.ndarray, charge: np.ndarray, path: Path) -> Path:
    """Bader charge (e) of every Si with a charge against its O-neighbour count (shape (n,) each;
    a fixed jitter of +-0.15 on the x axis separates the points)."""
    fig = figure(4.6, 3.4)
    ax = fig.subplots()
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, valence.size)
    colours = [VALENCE_COLOURS[v] if v < 5 else OVER_COORDINATED_COLOUR for v in valence]
    ax.scatter(valence + jitter, charge, s=8, c=colours)
    ax.set_xticks(range(6), [valence_label(v) for v in range(5)] + ["> 4 O"])
    ax.set_xlabel("O neighbours of the Si site")
    ax.set_ylabel("Bader charge (e)")
    return save(fig, path)


@styled
def plot_valence_distribution(dist: dict[float, dict], path: Path) -> Path:
    """Stacked Si0..Si4+ (and > 4 O) fractions against composition x (study 1 Fig. 2 analogue),
    from :func:`amorphxas.dataset.statistics.valence_distribution`."""
    xs = np.array(sorted(dist))
    fractions = np.array([dist[x]["fractions"] for x in xs])
    fig = figure(6.4, 3.4)
    ax = fig.subplots()
    bottom = np.zeros(len(xs))
    labels = [valence_label(v) for v in range(5)] + ["> 4 O"]
    colours = VALENCE_COLOURS + [OVER_COORDINATED_COLOUR]
    for k in range(6):
        ax.bar(xs, fractions[:, k], width=0.2, bottom=bottom, color=colours[k], label=labels[k])
        bottom += fractions[:, k]
    ax.set_xlabel("composition x (O atoms per Si)")
    ax.set_ylabel("fraction of Si sites")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return save(fig, path)
