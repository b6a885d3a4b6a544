"""Large amorphous models: forward-predicted average spectra against simple structural models.

Study 2 predicted the spectrum of every Si site of large SiOx models and compared the average
with the crystalline end members. For each large cell (by default the ones shipped in
``amorphxas/data/large/``, built by the project's melt-quench builder with the ``dataset``
preset), this module

- counts the Si valences and compares them with the random-bonding model (binomial in the
  O fraction x/2 of the four bonds) and the random-mixture model (only Si0 and Si4+);
- predicts the spectrum of every Si site with a forward model and averages them;
- builds the random-mixture spectrum (1 - x/2) c-Si + (x/2) alpha-quartz from the dataset's two
  crystal references, and the valence-weighted sum of the dataset's mean DFT spectra per valence,
  both in the forward model's normalisation.

Nothing here is computed by DFT: the large-cell spectra are model predictions and are labelled so.
The figures are drawn by :mod:`amorphxas.report.large_cell_figures`.
"""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np

from amorphxas.dataset import load_reference, load_spectra
from amorphxas.dataset.statistics import valence_means
from amorphxas.sites import MAX_VALENCE


def shipped_large_cells() -> list[Path]:
    """The large cells in the package (``amorphxas/data/large/*.extxyz``), sorted by name."""
    return sorted((Path(__file__).resolve().parent.parent / "data" / "large").glob("*.extxyz"))


def random_bonding_fractions(x: float) -> np.ndarray:
    """Fractions of Si0..Si4+ (shape (5,)) if each of the 4 bonds is O with probability x/2."""
    p = min(max(x / 2.0, 0.0), 1.0)
    return np.array([comb(4, n) * p**n * (1 - p) ** (4 - n) for n in range(5)])


def random_mixture_fractions(x: float) -> np.ndarray:
    """Fractions of Si0..Si4+ (shape (5,)) for a mixture of Si and SiO2 domains."""
    p = min(max(x / 2.0, 0.0), 1.0)
    return np.array([1 - p, 0.0, 0.0, 0.0, p])


def analyse_large_cells(model, paths: list[Path], dataset) -> list[dict]:
    """Valence statistics and spectra of each large cell (energies eV, spectra on ``model.energy``);
    ``dataset``: a path or an open :class:`~amorphxas.dataset.Dataset`.

    The dataset's references and per-valence mean DFT spectra are read once for all cells.
    Returns one dict per cell with ``n_atoms``, ``n_si``, ``x`` (measured O/Si),
    ``valence_fractions`` (5,), ``random_bonding`` (5,), ``random_mixture`` (5,), ``energy``
    (n_e,), ``predicted_mean`` (n_e,), ``predicted_std_mean`` (n_e,: mean of the per-site
    predictive std), ``mixture_spectrum`` (n_e,) and ``valence_weighted_dft`` (n_e, or None when a
    populated valence has no DFT spectrum), and ``n_over_coordinated`` (Si with more than 4 O,
    predicted like the others but outside the training valences), and the domain check:
    ``pc`` (n_si, 2) first two descriptor-PCA coordinates, ``n_outside_mahalanobis`` and
    ``n_outside_leverage`` (sites beyond the largest training value).
    """
    from amorphxas.forward.model import predict_structure
    from amorphxas.sites import analyse
    from amorphxas.structures import read_structure

    energy = model.energy
    e_si, si = load_reference(dataset, "diamond-si")
    e_q, quartz = load_reference(dataset, "alpha-quartz")
    si, quartz = np.interp(energy, e_si, si), np.interp(energy, e_q, quartz)
    dft = load_spectra(dataset)
    means = {v: np.interp(energy, dft.energy, mean) for v, (mean, _) in valence_means(dataset, dft).items()}
    results = []
    for path in paths:
        atoms = read_structure(path)
        sites = analyse(atoms)
        _, spectra, std, domain = predict_structure(model, path, return_domain=True)
        counts = np.bincount(sites.valence, minlength=MAX_VALENCE + 1)
        fractions = counts[: MAX_VALENCE + 1] / max(sites.n_si, 1)
        x = float(sites.composition_x)
        populated = [v for v in range(MAX_VALENCE + 1) if fractions[v] > 0]
        weighted = None
        if all(v in means for v in populated):
            weighted = sum(fractions[v] * means[v] for v in populated)
            weighted = weighted / fractions[populated].sum() / model.scale
        results.append({
            "file": Path(path).name, "n_atoms": len(atoms), "n_si": int(sites.n_si), "x": x,
            "valence_fractions": fractions, "random_bonding": random_bonding_fractions(x),
            "random_mixture": random_mixture_fractions(x),
            "n_over_coordinated": int(np.sum(sites.valence > MAX_VALENCE)),
            "pc": domain["pc"], "n_outside_mahalanobis": domain["n_outside_mahalanobis"],
            "n_outside_leverage": domain["n_outside_leverage"],
            "energy": energy, "predicted_mean": spectra.mean(axis=0),
            "predicted_std_mean": std.mean(axis=0),
            "mixture_spectrum": ((1 - x / 2) * si + x / 2 * quartz) / model.scale,
            "valence_weighted_dft": weighted})
    return results


def dataset_pca_map(model, pool) -> dict:
    """The dataset's Si sites on the first two descriptor-PCA axes of ``model`` (study 1 Fig. 12b):
    ``pc`` (n_pool, 2), ``valence`` (n_pool,), ``has_spectrum`` (n_pool,) bool, for the figure."""
    return {"pc": np.asarray(model.features(pool.X_raw))[:, :2], "valence": np.asarray(pool.valence),
            "has_spectrum": np.asarray(pool.has_spectrum, bool)}
