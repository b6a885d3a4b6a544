"""Large amorphous models: forward-predicted average spectra against simple structural models.

Study 2 predicted the spectrum of every Si site of large SiOx models and compared the average
with the crystalline end members. For each large cell (by default the ones shipped in
``amorphxas/data/large/``, built by the project's melt-quench builder with the ``dataset``
preset), this module

- counts the Si valences and compares them with the random-bonding model (binomial in the
  O fraction x/2 of the four bonds) and the random-mixture model (only Si0 and Si4+);
- predicts the spectrum of every Si site with a forward model (the compact default or a study-1
  descriptor ridge) and averages them, with the model's domain check per site;
- builds the random-mixture spectrum (1 - x/2) c-Si + (x/2) alpha-quartz from the dataset's two
  crystal references and from the model's own predictions for the two crystals, and the
  valence-weighted sum of the dataset's mean DFT spectra per valence, all in the forward model's
  normalisation.

Nothing here is computed by DFT: the large-cell spectra are model predictions and are labelled so.
The figures are drawn by :mod:`amorphxas.report.large_cell_figures`.
"""

from __future__ import annotations

import time
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


def default_model_on_all_spectra(dataset, n_jobs: int = 1):
    """The default forward model of ``amorphxas train forward``
    (:func:`~amorphxas.forward.compact_model.default_estimator`, the two-member ensemble, on the
    training fidelity) fitted on every DFT site spectrum of ``dataset`` (path) with valence 0..4,
    its domain check (physical block, with the cell-level check) on the whole pool. Returns
    (model, X (n_pool, n_features + 1) pool rows, pool, n_labelled)."""
    from amorphxas.forward.compact_model import (
        DEFAULT_ENSEMBLE,
        TRAINING_FIDELITY,
        CompactForwardModel,
        default_domain_columns,
        default_settings,
        fit_default_estimator,
        fit_model_domain,
        pool_features,
    )
    from amorphxas.forward.model import labelled_rows, make_split

    kinds = list(DEFAULT_ENSEMBLE["kinds"])
    X, pool, params = pool_features(dataset, kinds, n_jobs=n_jobs, fidelity=TRAINING_FIDELITY)
    make_split(pool)  # the forward stage's minimum-data refusal
    rows = labelled_rows(pool)
    est = fit_default_estimator(X, pool.Y, pool.cell_id, rows, params)
    domain, domain_header = fit_model_domain(X, pool, default_domain_columns(params),
                                             DEFAULT_ENSEMBLE["domain_kinds"])
    model = CompactForwardModel(estimator=est, domain=domain, energy=np.asarray(pool.energy, float),
                                scale=pool.scale,
                                header={"kinds": kinds, "settings": default_settings(),
                                        "descriptors": params, "n_train": int(rows.size),
                                        **domain_header})
    return model, X, pool, int(rows.size)


def analyse_large_cells(model, paths: list[Path], dataset) -> list[dict]:
    """Valence statistics and spectra of each large cell (energies eV, spectra on ``model.energy``);
    ``model``: the compact default (:class:`~amorphxas.forward.compact_model.CompactForwardModel`)
    or a study-1 descriptor ridge (:class:`~amorphxas.forward.model.ForwardModel`); ``dataset``: a
    path or an open :class:`~amorphxas.dataset.Dataset`.

    The dataset's references and per-valence mean DFT spectra are read once for all cells.
    Returns one dict per cell with ``n_atoms``, ``n_si``, ``x`` (measured O/Si),
    ``valence_fractions`` (5,), ``random_bonding`` (5,), ``random_mixture`` (5,), ``energy``
    (n_e,), ``predicted_mean`` (n_e,), ``predicted_std_mean`` (n_e,: mean of the per-site
    predictive std), ``mixture_spectrum`` (n_e,: (1 - x/2) c-Si + (x/2) quartz of the DFT
    references), ``mixture_predicted`` (n_e,: the same sum of the model's own mean predictions for
    diamond Si and alpha-quartz, study 1 Fig. 12), ``valence_weighted_dft`` (n_e, or None when a
    populated valence has no DFT spectrum), ``n_over_coordinated`` (Si with more than 4 O,
    predicted like the others but outside the training valences), ``cpu_s`` (featurising +
    prediction + domain check, process time of this process, s; the compact model also
    ``featurise_cpu_s``, the featurising part) and the domain check:
    ``pc`` (n_si, 2) first two coordinates of the model's domain / descriptor-PCA space,
    ``domain_summary`` (one line), and for the compact model ``n_outside_knn``,
    ``n_overcoordinated``, ``n_outside`` (either) and, for models with the cell-level check,
    ``cell_shift``, ``cell_threshold``, ``cell_outside``; for a study-1 model ``n_outside_mahalanobis``
    and ``n_outside_leverage`` (sites beyond the largest training value).
    """
    from amorphxas.sites import analyse
    from amorphxas.structures import read_structure

    energy = model.energy
    e_si, si = load_reference(dataset, "diamond-si")
    e_q, quartz = load_reference(dataset, "alpha-quartz")
    si, quartz = np.interp(energy, e_si, si), np.interp(energy, e_q, quartz)
    dft = load_spectra(dataset)
    means = {v: np.interp(energy, dft.energy, mean) for v, (mean, _) in valence_means(dataset, dft).items()}
    crystal_si, crystal_quartz = (_predict_atoms(model, _reference_atoms(name))[0].mean(axis=0)
                                  for name in ("diamond-si", "alpha-quartz"))
    results = []
    for path in paths:
        atoms = read_structure(path)
        sites = analyse(atoms)
        t0 = time.process_time()
        spectra, std, domain = _predict_atoms(model, atoms, path)
        cpu = time.process_time() - t0
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
            "n_over_coordinated": int(np.sum(sites.valence > MAX_VALENCE)), **domain,
            "energy": energy, "predicted_mean": spectra.mean(axis=0),
            "predicted_std_mean": std.mean(axis=0), "cpu_s": cpu,
            "mixture_spectrum": ((1 - x / 2) * si + x / 2 * quartz) / model.scale,
            "mixture_predicted": (1 - x / 2) * crystal_si + x / 2 * crystal_quartz,
            "valence_weighted_dft": weighted})
    return results


def _reference_atoms(name: str):
    from amorphxas.structures.references import build_reference

    return build_reference(name)


def _predict_atoms(model, atoms, path=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(spectra (n_si, n_e), std (n_si, n_e), domain entries) of every Si of ``atoms`` (read from
    ``path``; a study-1 model predicts a file in chunks, a small structure in one go)."""
    from amorphxas.forward.compact_model import CompactForwardModel, structure_features

    if isinstance(model, CompactForwardModel):
        t0 = time.process_time()
        X, _ = structure_features(atoms, model.kinds)
        featurise = time.process_time() - t0
        spectra, std = model.predict(X, return_std=True)
        chk = model.domain_check(X)
        domain = {k: chk[k] for k in ("n_outside_knn", "n_overcoordinated", "n_outside",
                                      "cell_shift", "cell_threshold", "cell_outside") if k in chk}
        domain["pc"] = model.domain_coordinates(X)[:, :2]
        domain["featurise_cpu_s"] = featurise
        domain["domain_summary"] = (f"{chk['n_outside']} ({chk['n_outside_knn']} by kNN, "
                                    f"{chk['n_overcoordinated']} with > 4 O)")
        if "cell_outside" in chk:
            domain["domain_summary"] += (f"; cell {'outside' if chk['cell_outside'] else 'inside'}"
                                         f" (shift {chk['cell_shift']:.2f}, threshold "
                                         f"{chk['cell_threshold']:.2f})")
        return spectra, std, domain
    if path is not None:
        from amorphxas.forward.model import predict_structure

        _, spectra, std, dom = predict_structure(model, path, return_domain=True)
    else:
        from amorphxas.descriptors import get_descriptor
        from amorphxas.descriptors.base import si_indices

        X = get_descriptor(model.header["kind"], model.header["preset"]).compute(atoms, si_indices(atoms))
        spectra, std = model.predict(X, return_std=True)
        dom = model.domain_check(X)
    domain = {k: dom[k] for k in ("pc", "n_outside_mahalanobis", "n_outside_leverage")}
    domain["domain_summary"] = (f"{dom['n_outside_mahalanobis']} / {dom['n_outside_leverage']} "
                                "(Mahalanobis / leverage)")
    return spectra, std, domain


def dataset_pca_map(model, pool, X=None) -> dict:
    """The dataset's Si sites on the first two axes of ``model``'s descriptor-PCA space (study 1
    Fig. 12b; for the compact model the whitened PCs of its domain check, rows ``X`` of
    :func:`~amorphxas.forward.compact_model.pool_features`): ``pc`` (n_pool, 2), ``valence``
    (n_pool,), ``has_spectrum`` (n_pool,) bool, for the figure."""
    from amorphxas.forward.compact_model import CompactForwardModel

    if isinstance(model, CompactForwardModel):
        if X is None:
            raise ValueError("the compact model's map needs the pool's feature rows X")
        pc = model.domain_coordinates(X)[:, :2]
    else:
        pc = np.asarray(model.features(pool.X_raw))[:, :2]
    return {"pc": np.asarray(pc), "valence": np.asarray(pool.valence),
            "has_spectrum": np.asarray(pool.has_spectrum, bool)}
