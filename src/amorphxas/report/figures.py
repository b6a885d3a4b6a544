"""Figures of the dataset (no computation beyond averaging what is stored).

Every figure states the number of sites it rests on.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from amorphxas.core.spectrum import edge_energy, main_peak  # noqa: E402
from amorphxas.dataset import load_reference, load_sites, load_spectra  # noqa: E402
from amorphxas.dataset.loader import SpectraTable, spectrum_site_rows  # noqa: E402

VALENCE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]


def site_valences(dataset: Path, spectra: SpectraTable | None = None) -> np.ndarray:
    """Valence of each spectrum row (-1 where the site table has no entry), shape (n_spec,)."""
    sites = load_sites(dataset)
    spectra = spectra if spectra is not None else load_spectra(dataset)
    rows = spectrum_site_rows(sites, spectra)
    return np.where(rows >= 0, sites.valence[rows], -1)


def valence_means(dataset: Path, spectra: SpectraTable | None = None) -> dict[int, tuple[np.ndarray, int]]:
    """{valence: (mean spectrum (n_energy,), n_sites)} over the stored site spectra."""
    spectra = spectra if spectra is not None else load_spectra(dataset)
    valences = site_valences(dataset, spectra)
    return {v: (spectra.intensity[valences == v].mean(axis=0), int((valences == v).sum()))
            for v in range(5) if (valences == v).any()}


def chemical_shifts(dataset: Path) -> dict[int, dict]:
    """Edge and main-peak energy (eV) of each valence's mean spectrum, with site counts."""
    spectra = load_spectra(dataset)
    return {v: {"n_sites": n, "edge_eV": edge_energy(spectra.energy, mean),
                "peak_eV": main_peak(spectra.energy, mean)}
            for v, (mean, n) in valence_means(dataset, spectra).items()}


def plot_references_and_valences(dataset: Path, path: Path) -> Path:
    """Crystal references and the per-valence mean site spectra (study 1 Fig. 4 analogue)."""
    spectra = load_spectra(dataset)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    means = valence_means(dataset, spectra)
    scale = max((m.max() for m, _ in means.values()), default=1.0)
    for v, (mean, n) in means.items():
        ax.plot(spectra.energy, mean / scale, color=VALENCE_COLOURS[v], label=f"Si{v}+ mean (n={n})")
    for name, style in (("diamond-si", "k--"), ("alpha-quartz", "k:")):
        try:
            energy, intensity = load_reference(dataset, name)
        except Exception:  # a dataset without that reference just lacks the curve
            continue
        ax.plot(energy, intensity / intensity.max(), style, label=f"{name} (crystal)")
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel("intensity (normalised to max)")
    ax.set_xlim(spectra.energy[0], spectra.energy[-1])
    ax.set_title(f"Si K-edge XANES, {spectra.intensity.shape[0]} DFT site spectra", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)


def plot_bader_vs_valence(dataset: Path, path: Path) -> Path:
    """Bader charge of every Si with a computed charge against its O-neighbour count."""
    sites = load_sites(dataset)
    ok = np.isfinite(sites.bader_charge)
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    rng = np.random.default_rng(0)
    ax.scatter(sites.valence[ok] + rng.uniform(-0.15, 0.15, ok.sum()), sites.bader_charge[ok], s=6)
    ax.set_xlabel("O neighbours (valence)")
    ax.set_ylabel("Bader charge (e)")
    ax.set_title(f"{ok.sum()} Si sites with Bader charges", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)


def valence_distribution(dataset: Path) -> dict[float, dict]:
    """Fraction of Si0..Si4+ (and over-coordinated, >4 O) per nominal composition x, over every
    analysed Si site of the dataset's cells: {x: {"n_si": n, "fractions": [f0..f4, f_over]}}."""
    sites = load_sites(dataset)
    out = {}
    for x in np.unique(np.round(sites.composition_x, 2)):
        v = sites.valence[np.round(sites.composition_x, 2) == x]
        counts = np.bincount(np.minimum(v, 5), minlength=6)[:6]
        out[float(x)] = {"n_si": int(v.size), "fractions": (counts / v.size).tolist()}
    return out


def plot_valence_distribution(dist: dict[float, dict], path: Path) -> Path:
    """Stacked Si0..Si4+ fractions against composition x (study 1 Fig. 2 analogue), from
    :func:`valence_distribution`."""
    xs = np.array(sorted(dist))
    fractions = np.array([dist[x]["fractions"] for x in xs])
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    bottom = np.zeros(len(xs))
    labels = [f"Si{v}+" for v in range(5)] + [">4 O"]
    colours = VALENCE_COLOURS + ["0.5"]
    for k in range(6):
        ax.bar(xs, fractions[:, k], width=0.2, bottom=bottom, color=colours[k], label=labels[k])
        bottom += fractions[:, k]
    ax.set_xlabel("composition x (SiOx)")
    ax.set_ylabel("fraction of Si sites")
    n_si = sum(d["n_si"] for d in dist.values())
    ax.set_title(f"Si valence per composition: {n_si} Si sites in the dataset's cells", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)
