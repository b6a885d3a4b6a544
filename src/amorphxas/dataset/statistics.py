"""Summary statistics of what a dataset stores (per-valence means, chemical shifts, valence
fractions per composition); read-only, used by the pipeline and the large-cell analysis.
``dataset``: a path or an open :class:`~amorphxas.dataset.Dataset` (read without reopening)."""

from __future__ import annotations

import numpy as np

from amorphxas.core.spectrum import edge_energy, main_peak
from amorphxas.dataset.loader import DatasetLike, SpectraTable, load_sites, load_spectra, spectrum_site_rows


def site_valences(dataset: DatasetLike, spectra: SpectraTable | None = None) -> np.ndarray:
    """Valence of each spectrum row (-1 where the site table has no entry), shape (n_spec,)."""
    sites = load_sites(dataset)
    spectra = spectra if spectra is not None else load_spectra(dataset)
    rows = spectrum_site_rows(sites, spectra)
    return np.where(rows >= 0, sites.valence[rows], -1)


def valence_means(dataset: DatasetLike,
                  spectra: SpectraTable | None = None) -> dict[int, tuple[np.ndarray, int]]:
    """{valence: (mean spectrum (n_energy,), n_sites)} over the stored site spectra."""
    spectra = spectra if spectra is not None else load_spectra(dataset)
    valences = site_valences(dataset, spectra)
    return {v: (spectra.intensity[valences == v].mean(axis=0), int((valences == v).sum()))
            for v in range(5) if (valences == v).any()}


def chemical_shifts(dataset: DatasetLike, spectra: SpectraTable | None = None) -> dict[int, dict]:
    """Edge (first half-maximum crossing) and main-peak energy (eV) of each valence's mean
    spectrum, with site counts: {valence: {"n_sites", "edge_eV", "peak_eV"}}."""
    spectra = spectra if spectra is not None else load_spectra(dataset)
    return {v: {"n_sites": n, "edge_eV": edge_energy(spectra.energy, mean),
                "peak_eV": main_peak(spectra.energy, mean)}
            for v, (mean, n) in valence_means(dataset, spectra).items()}


def valence_distribution(dataset: DatasetLike) -> dict[float, dict]:
    """Fraction of Si0..Si4+ (and over-coordinated, >4 O) per nominal composition x, over every
    analysed Si site of the dataset's cells: {x: {"n_si": n, "fractions": [f0..f4, f_over]}}."""
    sites = load_sites(dataset)
    out = {}
    for x in np.unique(np.round(sites.composition_x, 2)):
        v = sites.valence[np.round(sites.composition_x, 2) == x]
        counts = np.bincount(np.minimum(v, 5), minlength=6)[:6]
        out[float(x)] = {"n_si": int(v.size), "fractions": (counts / v.size).tolist()}
    return out
