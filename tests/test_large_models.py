"""Large models: structural reference models (exact formulas) and forward predictions on the
large cells shipped in the package (real data; skipped until the dataset can train a model)."""

import numpy as np
import pytest

from amorphxas.forward.large_cells import (
    random_bonding_fractions,
    random_mixture_fractions,
    shipped_large_cells,
)


def test_random_bonding_is_the_binomial_distribution():
    np.testing.assert_allclose(random_bonding_fractions(1.0), np.array([1, 4, 6, 4, 1]) / 16)
    np.testing.assert_allclose(random_bonding_fractions(0.0), [1, 0, 0, 0, 0])
    np.testing.assert_allclose(random_bonding_fractions(2.0), [0, 0, 0, 0, 1])
    for x in (0.25, 0.7, 1.5):
        f = random_bonding_fractions(x)
        assert f.sum() == pytest.approx(1.0)
        # mean number of O neighbours per Si is 4 * x / 2 = 2x
        assert (np.arange(5) * f).sum() == pytest.approx(2 * x)


def test_random_mixture_has_only_the_end_members():
    f = random_mixture_fractions(1.0)
    np.testing.assert_allclose(f, [0.5, 0, 0, 0, 0.5])
    assert (np.arange(5) * f).sum() == pytest.approx(2.0)


def test_large_cells_are_shipped_and_large():
    from amorphxas.sites import analyse
    from amorphxas.structures import read_structure

    cells = shipped_large_cells()
    assert len(cells) >= 1
    for path in cells:
        atoms = read_structure(path)
        assert len(atoms) >= 500
        sites = analyse(atoms)
        # the builder's nominal x is in the file name: siox_x<x>_n<atoms>
        nominal = float(path.stem.split("_x")[1].split("_")[0])
        assert sites.composition_x == pytest.approx(nominal, abs=0.02)


def test_predicted_large_cell_average_lies_between_the_end_members():
    """The mean predicted edge of a SiOx cell (0 < x < 2) lies between c-Si's and quartz's."""
    from amorphxas.core.errors import AmorphxasError
    from amorphxas.core.spectrum import edge_energy
    from amorphxas.dataset import embedded_path, load_reference
    from amorphxas.forward.large_cells import analyse_large_cells
    from amorphxas.forward.model import MIN_SITES, fit_model, labelled_rows, load_pool, make_split

    dataset = embedded_path()
    pool = load_pool(dataset, "soap-gto", "fast")
    if labelled_rows(pool).size < MIN_SITES:  # only a dataset too small to train may skip
        with pytest.raises(AmorphxasError, match="need at least"):
            make_split(pool)
        pytest.skip(f"{labelled_rows(pool).size} site spectra, fewer than {MIN_SITES}")
    make_split(pool)  # on a large enough dataset a refusal is a failure
    model = fit_model(pool, labelled_rows(pool), "direct", cv=3)
    path = shipped_large_cells()[0]
    result = analyse_large_cells(model, [path], dataset)[0]
    assert np.all(np.isfinite(result["predicted_mean"]))
    assert result["valence_fractions"].sum() <= 1.0 + 1e-12
    e_si, si = load_reference(dataset, "diamond-si")
    e_q, quartz = load_reference(dataset, "alpha-quartz")
    edge = edge_energy(result["energy"], result["predicted_mean"])
    assert edge_energy(e_si, si) - 0.5 < edge < edge_energy(e_q, quartz) + 0.5
    x = result["x"]
    expected = ((1 - x / 2) * si + x / 2 * quartz) / model.scale
    np.testing.assert_allclose(result["mixture_spectrum"], expected)
    # domain check: the training sites' own projections are inside the training domain, the
    # large cell's coordinates are the model's PCA of its descriptors
    assert result["pc"].shape == (result["n_si"], 2)
    assert 0 <= result["n_outside_mahalanobis"] <= result["n_si"]
    train_domain = model.domain_check(pool.X_raw[labelled_rows(pool)])
    assert train_domain["n_outside_mahalanobis"] == 0


def test_default_compact_model_predicts_a_large_cell(tmp_path):
    """The default (compact) model trained on all spectra of a copy of the embedded dataset: the
    large-cell analysis gives a finite average between the end members, the bulk Si + SiO2 sum of
    its own crystal predictions, per-site domain counts and the map coordinates."""
    import shutil

    from amorphxas.core.errors import AmorphxasError
    from amorphxas.core.spectrum import edge_energy
    from amorphxas.dataset import embedded_path, load_reference
    from amorphxas.forward.compact_model import (
        DEFAULT_ENSEMBLE,
        CompactForwardModel,
        default_domain_columns,
        default_settings,
    )
    from amorphxas.forward.ensemble import EnsembleSpectrum
    from amorphxas.forward.large_cells import (
        analyse_large_cells,
        dataset_pca_map,
        default_model_on_all_spectra,
    )

    dataset = tmp_path / "copy.h5"
    shutil.copy(embedded_path(), dataset)  # the campaign may be writing the embedded file
    try:
        model, X, pool, n_labelled = default_model_on_all_spectra(dataset)
    except AmorphxasError as exc:  # only a dataset too small to train may skip
        assert "need at least" in str(exc)
        pytest.skip(str(exc))
    assert isinstance(model, CompactForwardModel) and n_labelled == int(pool.has_spectrum.sum()) - int(
        np.sum(pool.has_spectrum & (pool.valence > 4)))
    # the default of `amorphxas train forward`: the two-member ensemble, domain on the physical block
    assert isinstance(model.estimator, EnsembleSpectrum)
    assert len(model.estimator.members_) == len(DEFAULT_ENSEMBLE["members"]) == 2
    assert model.header["settings"] == default_settings()
    assert model.header["kinds"] == list(DEFAULT_ENSEMBLE["kinds"])
    assert model.header["domain_columns"] == default_domain_columns(model.header["descriptors"])
    assert X.shape[1] - 1 > model.header["domain_columns"][1] - model.header["domain_columns"][0]
    path = shipped_large_cells()[0]
    r = analyse_large_cells(model, [path], dataset)[0]
    for key in ("predicted_mean", "predicted_std_mean", "mixture_spectrum", "mixture_predicted"):
        assert r[key].shape == model.energy.shape and np.all(np.isfinite(r[key]))
    e_si, si = load_reference(dataset, "diamond-si")
    e_q, quartz = load_reference(dataset, "alpha-quartz")
    edge = edge_energy(r["energy"], r["predicted_mean"])
    assert edge_energy(e_si, si) - 0.5 < edge < edge_energy(e_q, quartz) + 0.5
    assert 0 <= r["n_outside_knn"] <= r["n_outside"] <= r["n_si"]
    assert r["n_overcoordinated"] == r["n_over_coordinated"]
    assert r["pc"].shape == (r["n_si"], 2) and r["cpu_s"] >= r["featurise_cpu_s"] >= 0
    assert isinstance(r["cell_outside"], bool) and r["cell_threshold"] > 0 and "cell" in r["domain_summary"]
    assert "kNN" in r["domain_summary"]
    assert 0 < r["x"] < 2
    m = dataset_pca_map(model, pool, X)
    assert m["pc"].shape == (len(pool.valence), 2)
    # the pool's own sites are scored against themselves: (almost) all inside
    assert model.domain_check(X)["n_outside_knn"] <= 0.02 * len(X)
