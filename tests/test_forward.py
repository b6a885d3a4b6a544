"""Forward stage: ridge (direct/PCA/NMF), posterior std, UR active learning, metrics, save/load.

All arrays named ``fixture_*`` are hand-made test fixtures built from a known linear model (not
spectra, not data): each test checks an independent computation against them.
"""

import json

import numpy as np
import pytest
from sklearn.base import clone

from amorphxas.core.errors import AmorphxasError
from amorphxas.descriptors import fit_pca
from amorphxas.forward import (
    ForwardError,
    ForwardModel,
    Pool,
    RidgeSpectrum,
    forward_metrics,
    rmse_energy,
    select_next_sites,
    select_ur,
    split_cell,
    split_random,
    total_variance,
    valence_mean_baseline,
    variance_reduction,
)
from amorphxas.forward.model import check_grid, domain_statistics


def fixture_linear(n=60, d=5, n_energy=40, seed=0, noise=0.0):
    """Non-negative X (n, d), non-negative W (d, n_energy): Y = X W (+ noise) has rank d."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, (n, d))
    W = rng.uniform(0.0, 1.0, (d, n_energy))
    Y = X @ W + noise * rng.standard_normal((n, n_energy))
    return X, W, Y


def test_direct_ridge_recovers_known_linear_map():
    X, W, Y = fixture_linear()
    est = RidgeSpectrum(mode="direct", alpha=1e-10).fit(X, Y)
    np.testing.assert_allclose(est.coef_.T, W, atol=1e-6)
    np.testing.assert_allclose(est.intercept_, 0.0, atol=1e-6)
    Xn, _, _ = fixture_linear(n=10, seed=1)
    np.testing.assert_allclose(est.predict(Xn), Xn @ W, atol=1e-6)


def test_direct_ridge_small_alpha_is_least_squares():
    X, _, Y = fixture_linear(noise=0.1, seed=3)
    est = RidgeSpectrum(mode="direct", alpha=1e-9).fit(X, Y)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    sol, *_ = np.linalg.lstsq(A, Y, rcond=None)
    np.testing.assert_allclose(est.coef_.T, sol[:-1], atol=1e-6)
    np.testing.assert_allclose(est.intercept_, sol[-1], atol=1e-6)


def test_cv_picks_small_alpha_for_noise_free_map_and_large_for_pure_noise():
    X, _, Y = fixture_linear(n=50)
    assert RidgeSpectrum(alphas=(1e-6, 1e-2, 1e2)).fit(X, Y).alpha_ == 1e-6
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(Y.shape)
    assert RidgeSpectrum(alphas=(1e-6, 1e-2, 1e3)).fit(X, noise).alpha_ == 1e3


def test_pca_mode_reconstructs_rank_k_exactly():
    X, W, Y = fixture_linear(d=4)
    est = RidgeSpectrum(mode="pca", alpha=1e-10).fit(X, Y)
    assert est.basis_.shape[0] <= 4  # 99.9 % of the variance of a rank-4 set: at most 4 PCs
    np.testing.assert_allclose(est.predict(X), Y, atol=1e-6)
    Xn, _, _ = fixture_linear(d=4, n=7, seed=2)
    np.testing.assert_allclose(est.predict(Xn), Xn @ W, atol=1e-6)


def test_nmf_mode_rank_k_near_exact_and_non_negative():
    X, _, Y = fixture_linear(d=3, n=50, n_energy=30)
    est = RidgeSpectrum(mode="nmf", alpha=1e-10, n_components=3, nmf_max_iter=5000).fit(X, Y)
    assert est.basis_.shape == (3, 30)
    assert np.all(est.basis_ >= 0.0)
    rel = np.linalg.norm(est.predict(X) - Y) / np.linalg.norm(Y)
    assert rel < 1e-2


def test_nmf_rejects_negative_spectra():
    X, _, Y = fixture_linear()
    with pytest.raises(ForwardError, match="non-negative"):
        RidgeSpectrum(mode="nmf", alpha=1.0).fit(X, Y - 1.0)


def test_posterior_std_shrinks_where_training_data_lie():
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 0.3, (40, 2))
    Y = X @ rng.normal(size=(2, 10)) + 0.05 * rng.standard_normal((40, 10))
    est = RidgeSpectrum(alpha=1e-3).fit(X, Y)
    near, far = np.array([[0.1, -0.1]]), np.array([[4.0, 4.0]])
    _, s_near = est.predict(near, return_std=True)
    _, s_far = est.predict(far, return_std=True)
    assert np.all(s_near < s_far)
    # adding training points at the far place shrinks the std there
    X2 = np.vstack([X, far + rng.normal(0, 0.05, (5, 2))])
    Y2 = np.vstack([Y, X2[-5:] @ np.linalg.lstsq(X, Y, rcond=None)[0]])
    est2 = RidgeSpectrum(alpha=1e-3).fit(X2, Y2)
    assert est2.leverage(far)[0] < 0.5 * est.leverage(far)[0]


def test_variance_reduction_equals_brute_force_and_ur_picks_the_best():
    rng = np.random.default_rng(1)
    fixture_pool = rng.normal(size=(9, 3))
    train = np.zeros(9, bool)
    train[[0, 1]] = True
    alpha = 0.5
    mu = fixture_pool.mean(axis=0)
    v0 = total_variance(fixture_pool, fixture_pool[train], alpha, centre=mu)
    brute = np.array([v0 - total_variance(fixture_pool, fixture_pool[train | (np.arange(9) == c)],
                                          alpha, centre=mu) for c in range(9)])
    fast = variance_reduction(fixture_pool, fixture_pool[train], alpha)
    np.testing.assert_allclose(fast[~train], brute[~train], rtol=1e-10, atol=1e-12)
    first = select_ur(fixture_pool, train, 1, alpha)[0]
    assert first == int(np.argmax(np.where(train, -np.inf, brute)))
    # greedy batch of 3 = brute-force greedy (re-solving from scratch each time)
    chosen, mask = [], train.copy()
    for _ in range(3):
        v = total_variance(fixture_pool, fixture_pool[mask], alpha, centre=mu)
        red = [(-np.inf if mask[c] else
                v - total_variance(fixture_pool, fixture_pool[mask | (np.arange(9) == c)], alpha,
                                   centre=mu)) for c in range(9)]
        chosen.append(int(np.argmax(red)))
        mask[chosen[-1]] = True
    assert select_ur(fixture_pool, train, 3, alpha) == chosen


def test_ur_picks_far_point_before_near_duplicate():
    rng = np.random.default_rng(2)
    cluster = rng.normal(0.0, 0.2, (20, 2))
    fixture_pool = np.vstack([cluster, cluster[:1] + 1e-3, [[3.0, 3.0]], [[3.0, 3.1]]])
    train = np.zeros(len(fixture_pool), bool)
    train[:20] = True
    picks = select_ur(fixture_pool, train, 2, alpha=0.1)
    assert picks[0] in (21, 22) and 20 not in picks


def test_ur_stratified_balances_valences_and_uses_ur_within_a_class():
    """Two classes: the class with fewer sites (training + chosen) is served first and, inside a
    class, the far point comes before the one next to the training sites."""
    from amorphxas.forward.active import select_ur_stratified

    rng = np.random.default_rng(3)
    cluster = rng.normal(0.0, 0.2, (20, 2))
    fixture_pool = np.vstack([cluster, cluster[:1] + 1e-3, [[3.0, 3.0]], [[-2.0, 1.0]], [[0.1, 0.0]]])
    valence = np.array([0] * 20 + [0, 0, 4, 4])
    train = np.zeros(len(fixture_pool), bool)
    train[:20] = True
    # class 4 (no training site): far 22 before near 23; then class 0: far 21 before duplicate 20
    assert select_ur_stratified(fixture_pool, valence, train, 3, alpha=0.1) == [22, 23, 21]
    assert len(select_ur_stratified(fixture_pool, valence, train, 10, alpha=0.1)) == 4


def fixture_model():
    X, _, Y = fixture_linear(n=40, d=6, n_energy=32, noise=0.01)
    pca = fit_pca(X, 0.999)
    est = RidgeSpectrum(mode="nmf", alpha=None, n_components=4).fit(pca.transform(X), np.abs(Y))
    return ForwardModel(estimator=est, pca=pca, energy=np.linspace(1830, 1880, 32), scale=2.5,
                        header={"kind": "fixture", "preset": "none", "descriptor": {},
                                "domain": domain_statistics(pca.transform(X))}), X


@pytest.mark.parametrize("mode", ["direct", "pca", "nmf"])
def test_save_load_round_trip_is_bit_identical_without_pickle(tmp_path, mode):
    model, X = fixture_model()
    Z = model.pca.transform(X)
    model.estimator = RidgeSpectrum(mode=mode, alpha=0.1, n_components=4).fit(Z, np.abs(X @ np.ones((6, 32))))
    npz, js = model.save(tmp_path / "m")
    with np.load(npz, allow_pickle=False) as data:  # raises if any array needs pickle
        assert all(data[k].dtype != object for k in data.files)
    json.loads(js.read_text())
    loaded = ForwardModel.load(tmp_path / "m")
    y0, s0 = model.predict(X, return_std=True)
    y1, s1 = loaded.predict(X, return_std=True)
    assert np.array_equal(y0, y1) and np.array_equal(s0, s1)
    assert loaded.scale == 2.5 and loaded.estimator.mode == mode


def test_load_rejects_foreign_file(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ForwardError, match="not an amorphxas forward model"):
        ForwardModel.load(tmp_path / "m")


def _one_line(exc):
    return "\n" not in str(exc.value) and issubclass(exc.type, AmorphxasError)


def test_bad_input_gives_one_line_errors():
    X, _, Y = fixture_linear()
    Ybad = Y.copy()
    Ybad[3, 5] = np.nan
    with pytest.raises(ForwardError, match="NaN") as exc:
        RidgeSpectrum(alpha=1.0).fit(X, Ybad)
    assert _one_line(exc)
    Xbad = X.copy()
    Xbad[0, 0] = np.inf
    with pytest.raises(ForwardError, match="NaN") as exc:
        RidgeSpectrum(alpha=1.0).fit(Xbad, Y)
    with pytest.raises(ForwardError, match="rows") as exc:
        RidgeSpectrum(alpha=1.0).fit(X[:-1], Y)
    assert _one_line(exc)
    with pytest.raises(ForwardError, match="cross-validation") as exc:
        RidgeSpectrum(alpha=None, cv=5).fit(X[:4], Y[:4])
    assert _one_line(exc)
    est = RidgeSpectrum(alpha=1.0).fit(X, Y)
    with pytest.raises(ForwardError, match="columns"):
        est.predict(X[:, :3])
    with pytest.raises(ForwardError, match="unknown mode"):
        RidgeSpectrum(mode="svd").fit(X, Y)
    with pytest.raises(ForwardError, match="energy grid") as exc:
        check_grid(np.linspace(1830, 1880, 256), np.linspace(1835, 1855, 256))
    assert _one_line(exc)


def test_unfitted_estimator_raises_and_clone_works():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        RidgeSpectrum().predict(np.zeros((1, 2)))
    est = clone(RidgeSpectrum(mode="pca", alpha=2.0))
    assert est.get_params()["alpha"] == 2.0


def test_metrics_equal_hand_computation():
    fixture_true = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    fixture_pred = np.array([[1.0, 1.0, 3.0], [1.0, 1.0, 1.0], [2.0, 2.0, 0.0]])
    valence = np.array([4, 0, 4])
    hand = [np.sqrt((0 + 1 + 0) / 3), np.sqrt((1 + 0 + 0) / 3), np.sqrt((0 + 0 + 4) / 3)]
    np.testing.assert_allclose(rmse_energy(fixture_true, fixture_pred), hand)
    m = forward_metrics(fixture_true, fixture_pred, valence, std=np.ones((3, 3)))
    assert m["rmse_total"] == pytest.approx(np.mean(hand))
    assert m["rmse_by_valence"]["0"] == pytest.approx(np.mean([1.0, 0.0, 0.0]))
    assert m["rmse_by_valence"]["4"] == pytest.approx(np.mean([0.0, np.sqrt(0.5), np.sqrt(2.0)]))
    assert m["rmse_by_valence"]["2"] is None and m["n_test"] == 3
    assert m["calibration"]["within_1sigma"] == pytest.approx(8 / 9)
    base = valence_mean_baseline(fixture_true, valence, np.array([4, 0, 3]))
    np.testing.assert_allclose(base[0], [1.5, 2.0, 2.5])
    np.testing.assert_allclose(base[1], [0.0, 1.0, 1.0])
    np.testing.assert_allclose(base[2], fixture_true.mean(axis=0))


def test_splits_are_disjoint_and_by_cell_keeps_cells_whole():
    valence = np.repeat([0, 1, 2, 3, 4], 20)
    tr, te = split_random(valence, seed=0)
    assert set(tr).isdisjoint(te) and len(tr) + len(te) == 100
    assert np.all(np.bincount(valence[te]) == 4)
    cells = np.repeat([f"c{i}" for i in range(5)], 20)
    tr, te = split_cell(cells, seed=1)
    assert set(cells[tr]).isdisjoint(cells[te]) and len(te) >= 20 and len(tr) > 0
    with pytest.raises(ForwardError, match="2 cells"):
        split_cell(np.array(["a"] * 10))


def test_select_next_sites_writes_campaign_json(tmp_path):
    rng = np.random.default_rng(4)
    n = 30
    pool = Pool(X_raw=rng.normal(size=(n, 4)), cell_id=np.array(["a"] * 15 + ["b"] * 15, dtype=object),
                atom_index=np.arange(n), valence=np.array([0, 1, 2, 3, 4, 5] * 5),
                has_spectrum=np.arange(n) < 5, Y=np.full((n, 3), np.nan), energy=np.arange(3.0),
                scale=1.0, normalisation="fixture")
    out = tmp_path / "sites.json"
    for strategy in ("ur", "random", "stratified"):
        sites = select_next_sites(None, pool, 6, strategy=strategy, out=out)
        assert len(sites) == 6
        rows = [int(s["atom_index"]) for s in sites]
        assert len(set(rows)) == 6 and all(r >= 5 for r in rows)
        assert all(pool.valence[r] <= 4 for r in rows)  # over-coordinated Si never chosen
        assert json.loads(out.read_text()) == sites and set(sites[0]) == {"cell_id", "atom_index"}
    with pytest.raises(ForwardError, match="unknown strategy"):
        select_next_sites(None, pool, 2, strategy="greedy")


# -- end to end on a hand-made fixture dataset (real small crystal cells, rattled; the "spectra"
#    are a known linear function of the descriptors, so a direct model must fit them exactly) ----
@pytest.fixture(scope="module")
def fixture_dataset(tmp_path_factory):
    from amorphxas.dataset import create, store, transaction
    from amorphxas.descriptors import load_descriptors
    from amorphxas.forward.model import descriptor_sidecar

    from .conftest import write_crystal_cells

    tmp = tmp_path_factory.mktemp("fwd")
    grid = np.linspace(1830.0, 1880.0, 256)
    path = create(tmp / "fixture_dataset.h5", grid)
    written = write_crystal_cells(path, [("q0", "quartz"), ("q1", "quartz"), ("s0", "silicon")],
                                  rattle=0.05)
    cells = {name: atoms for name, (atoms, _) in written.items()}
    sidecar = descriptor_sidecar(path, "soap-gto", "fast", tmp / "fixture.descriptors.h5")
    X, cell, index, _ = load_descriptors(sidecar, "soap-gto")
    pca = fit_pca(X, 0.999)
    Z = pca.transform(X)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 256)) * 0.01
    fixture_spectra = 1.0 + Z[:, :3] @ W  # known linear map of the leading descriptor PCs, positive
    with transaction(path) as h5:
        for c, i, y in list(zip(cell, index, fixture_spectra))[:-4]:  # 4 sites left uncomputed
            store.add_spectrum(h5, str(c), int(i), y, 1840.0, np.arange(3.0), np.ones((1, 3)), {})
    return path, sidecar, cells, tmp


def test_train_forward_end_to_end_on_fixture_dataset(fixture_dataset):
    from amorphxas.forward import predict_structure, train_forward
    from amorphxas.forward.model import load_pool

    path, sidecar, cells, tmp = fixture_dataset
    model, metrics = train_forward(path, "soap-gto", "direct", split="random", preset="fast",
                                   descriptors=sidecar)
    assert metrics["n_train"] + metrics["n_test"] == metrics["n_spectra"] > 12
    assert set(metrics["rmse_by_valence"]) == {"0", "1", "2", "3", "4"}
    # linear fixture: the model must beat the valence-mean baseline by far
    assert metrics["rmse_total"] < 0.2 * metrics["baseline_rmse_total"], metrics["rmse_total"]
    model.save(tmp / "model" / "model")
    loaded = ForwardModel.load(tmp / "model")
    cells["q0"].write(tmp / "q0.extxyz")
    energy, Y, S, dom = predict_structure(loaded, tmp / "q0.extxyz", chunk=5, return_domain=True)
    assert Y.shape == S.shape == (int(np.sum(cells["q0"].numbers == 14)), 256)
    assert dom["n_sites"] == Y.shape[0] and np.all(S > 0)
    pool = load_pool(path, "soap-gto", "fast", sidecar)
    rows = np.flatnonzero(pool.cell_id == "q0")
    np.testing.assert_allclose(Y, model.predict(pool.X_raw[rows]), atol=1e-4)
    sites = select_next_sites(loaded, pool, 3)
    assert all(not pool.has_spectrum[(pool.cell_id == s["cell_id"]) & (pool.atom_index == s["atom_index"])][0]
               for s in sites)


def test_cell_split_and_refusal_below_min_sites(fixture_dataset, tmp_path):
    from amorphxas.dataset import create
    from amorphxas.forward import train_forward
    from amorphxas.forward.evaluate import evaluate_dataset

    path, sidecar, _, _ = fixture_dataset
    _, m = train_forward(path, "soap-gto", "pca", split="cell", preset="fast", descriptors=sidecar)
    assert m["n_test"] > 0 and m["split"] == "cell"
    empty = create(tmp_path / "fixture_empty.h5", np.linspace(1830.0, 1880.0, 256))
    with pytest.raises(ForwardError, match="at least"):
        evaluate_dataset(empty)


def test_cli_entry_points_on_fixture_dataset(fixture_dataset):
    from amorphxas.forward import predict_to_csv, save_training, select_sites_for_dataset, train_forward

    path, sidecar, cells, tmp = fixture_dataset
    model, metrics = train_forward(path, "soap-gto", "nmf", preset="fast", descriptors=sidecar)
    d = save_training(model, metrics, tmp / "nmf_model")
    m = json.loads((d / "metrics.json").read_text())
    assert {"rmse_total", "rmse_by_valence", "n_train", "n_test", "baseline_rmse_total"} <= set(m)
    cells["s0"].write(tmp / "s0.extxyz")
    summary = predict_to_csv(d, tmp / "s0.extxyz", tmp / "s0.csv")
    table = np.loadtxt(tmp / "s0.csv", delimiter=",", skiprows=1)
    assert table.shape == (256, 4 + 2 * summary["n_sites"]) and summary["n_sites"] == 16
    sites = select_sites_for_dataset(path, 2, "ur", model=d, descriptors=sidecar, out=tmp / "s.json")
    assert json.loads((tmp / "s.json").read_text()) == sites and len(sites) == 2


def test_evaluate_dataset_report_on_fixture_dataset(fixture_dataset, tmp_path):
    from amorphxas.forward.evaluate import evaluate_dataset
    from amorphxas.report.forward_figures import figures

    path, sidecar, _, tmp = fixture_dataset
    cached_sidecar = tmp_path / f"{path.stem}.fast.descriptors.h5"
    cached_sidecar.write_bytes(sidecar.read_bytes())
    rep = evaluate_dataset(path, ["soap-gto"], "fast", seeds=(0, 1), descriptors_dir=tmp_path)
    entry = rep["kinds"]["soap-gto"]
    assert rep["n_spectra"] == entry["n_labelled"] == 36
    for split in ("random", "cell"):
        for mode in ("direct", "pca", "nmf"):
            m = entry["table"][split][mode]
            assert m["rmse_total"]["n_seeds"] == 2
            assert m["rmse_total"]["mean"] < m["baseline_rmse_total"]["mean"]
    lc = entry["learning_curve"]
    assert lc["sizes"] and set(lc["ur"]) == set(lc["random"]) == {str(s) for s in lc["sizes"]}
    assert len(lc["delta_rmse_energy_at_largest"]) == 256
    paths = figures(rep, tmp_path / "fig")
    assert all(p.exists() for p in paths)


def test_extremes_pick_the_smallest_and_largest_error_site_of_each_valence():
    from types import SimpleNamespace

    from amorphxas.forward.evaluate import extremes

    rng = np.random.default_rng(4)
    fixture = SimpleNamespace(valence=np.array([0, 0, 0, 4, 4, 2]), cell_id=np.array(list("abcdef")),
                              atom_index=np.arange(6), Y=rng.random((6, 8)))
    test_rows = np.array([0, 1, 2, 3, 5])
    Y_pred = fixture.Y[test_rows] + rng.normal(0, 0.1, (5, 8))
    rmse = np.sqrt(np.mean((Y_pred - fixture.Y[test_rows]) ** 2, axis=1))
    out = extremes(fixture, test_rows, Y_pred, rmse)
    assert set(out) == {"0", "2", "4"}
    assert out["0"]["best"]["rmse"] == rmse[:3].min() and out["0"]["worst"]["rmse"] == rmse[:3].max()
    assert out["4"]["best"]["site"] == out["4"]["worst"]["site"] == "d:3"
    worst0 = int(np.argmax(rmse[:3]))
    np.testing.assert_array_equal(out["0"]["worst"]["true"], fixture.Y[worst0])
    np.testing.assert_array_equal(out["0"]["worst"]["pred"], Y_pred[worst0])
