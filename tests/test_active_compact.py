"""Active learning on the default forward model's posterior (forward.active.PosteriorUR,
CompactSpectrum.posterior_covariance, forward.select_compact). Every spectrum here is a
hand-made fixture (a smooth function of hand-made features), not data."""

from __future__ import annotations

import numpy as np
import pytest

from amorphxas.forward.active import (
    PosteriorUR,
    select_indices,
    select_ur,
    select_ur_stratified,
    select_with_test_reserve,
)
from amorphxas.forward.compact import CompactSpectrum

N_E = 16


def _fixture_spectra(F, valence):
    """Hand-made fixture spectra (n, N_E): smooth in the features, offset by the valence."""
    e = np.linspace(0.0, 1.0, N_E)
    return (1.0 + 0.1 * valence[:, None] + 0.05 * np.sin(F[:, :1] + 3 * e)
            + 0.02 * np.cos(F[:, 1:2] * e))


def _fixture_pool(n=80, seed=0):
    """Hand-made fixture: pool rows [3 features, valence], a training mask, fixture spectra."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, 3))
    valence = np.arange(n) % 5
    X = np.column_stack([F, valence.astype(float)])
    train = np.zeros(n, bool)
    train[rng.permutation(n)[:25]] = True
    return X, valence, train, _fixture_spectra(F, valence), np.array([f"c{i % 4}" for i in range(n)])


def _fit(X, Y, cells, rows, method="krr"):
    kw = {"alpha": 0.05, "length_scales": (1.0,)} if method == "krr" else {"alpha": 1.0}
    return CompactSpectrum(method=method, residual=True, **kw).fit(X[rows], Y[rows], groups=cells[rows])


@pytest.mark.parametrize("method", ["krr", "ridge"])
def test_posterior_covariance_matches_leverage_and_the_rank_one_update(method):
    X, valence, train, Y, cells = _fixture_pool()
    est = _fit(X, Y, cells, train, method)
    C = est.posterior_covariance(X)
    assert np.allclose(np.diag(C), est.leverage(X), atol=1e-9)
    assert np.allclose(C, C.T, atol=1e-9)
    engine = PosteriorUR.from_model(est, X)
    picks = [int(i) for i in np.flatnonzero(~train)[:3]]
    for c in picks:
        engine.add(c)
    assert np.allclose(np.diag(engine.C), est.posterior_variance(X, X[picks]), atol=1e-8)
    assert np.allclose(engine.C, est.posterior_covariance(X, X_extra=X[picks]), atol=1e-8)
    assert np.array_equal(est.posterior_variance(X), est.leverage(X))


def test_reduction_is_the_drop_of_the_summed_predictive_variance():
    X, valence, train, Y, cells = _fixture_pool()
    est = _fit(X, Y, cells, train)
    engine = PosteriorUR.from_model(est, X)
    before = engine.variance().sum()
    # the summed variance is the model's own predictive variance summed over sites and energies
    assert before == pytest.approx(np.sum(est.predict(X, return_std=True)[1] ** 2), rel=1e-9)
    c = int(np.flatnonzero(~train)[0])
    red = engine.reductions([c])[0]
    engine.add(c)
    assert before - engine.variance().sum() == pytest.approx(red, rel=1e-9)


def test_a_duplicate_of_a_training_point_reduces_almost_nothing():
    """Hand-made fixture: a tight training cluster, a near-duplicate of a training point and a far
    point; UR takes the far point first and the duplicate's reduction is ~zero beside it."""
    rng = np.random.default_rng(1)
    F_train = rng.normal(scale=0.3, size=(15, 3))
    v_train = np.arange(15) % 5
    F_pool = np.vstack([F_train, F_train[3] + 1e-6, [6.0, 6.0, 6.0]])
    v_pool = np.concatenate([v_train, [v_train[3], v_train[3]]])
    X = np.column_stack([F_pool, v_pool.astype(float)])
    train = np.zeros(len(X), bool)
    train[:15] = True
    Y = _fixture_spectra(F_pool, v_pool)
    cells = np.array([f"c{i % 3}" for i in range(len(X))])
    est = CompactSpectrum(method="krr", residual=True, alpha=1e-3, length_scales=(1.0,)).fit(
        X[train], Y[train], groups=cells[train])
    engine = PosteriorUR.from_model(est, X)
    dup, far = 15, 16
    r_dup, r_far = engine.reductions([dup, far])
    assert r_dup < 1e-2 * r_far
    assert select_ur(None, train, 2, 1.0, engine=PosteriorUR.from_model(est, X)) == [far, dup]


def test_compact_ur_never_picks_reserved_or_computed_sites():
    X, valence, has, Y, cells = _fixture_pool(n=100, seed=2)
    reserved = np.random.default_rng(3).random(100) < 0.2
    est = _fit(X, Y, cells, has & ~reserved)
    for strategy in ("ur", "ur-stratified"):
        picks = select_with_test_reserve(strategy, None, has, 20, reserved, valence=valence, seed=1,
                                         engine=PosteriorUR.from_model(est, X))
        training, test = picks[:16], picks[16:]
        assert len(set(picks)) == 20 and not has[picks].any()
        assert not reserved[training].any() and reserved[test].all()


def test_compact_ur_stratified_keeps_a_fifth_per_valence():
    X, valence, train, Y, cells = _fixture_pool(n=120, seed=4)
    # make one class far more uncertain (shifted features) so plain UR would favour it
    X[valence == 2, :3] += 3.0
    est = _fit(X, Y, cells, train)
    picks = select_ur_stratified(None, valence, train, 10, 1.0,
                                 engine=PosteriorUR.from_model(est, X))
    counts = np.bincount(valence[picks], minlength=5)
    assert counts.min() >= 2 and len(set(picks)) == 10 and not train[picks].any()
    plain = select_indices("ur", None, train, 10, valence=valence,
                           engine=PosteriorUR.from_model(est, X))
    assert np.bincount(valence[plain], minlength=5)[2] > 2  # the floor is what balances it


def test_ensemble_engine_is_the_mean_of_its_kernel_members():
    """The default model's UR engine: the label-free part of the ensemble's predictive variance
    (c^2 times the mean member variance), its drop on labelling, each member updated."""
    from amorphxas.forward.active import EnsemblePosteriorUR, posterior_engine
    from amorphxas.forward.ensemble import EnsembleSpectrum

    X, valence, train, Y, cells = _fixture_pool()
    members = ({"columns": (0, 2), "method": "krr", "residual": True},
               {"columns": (0, 3), "method": "krr", "residual": False})
    est = EnsembleSpectrum(members=members, cv=3).fit(X[train], Y[train], groups=cells[train])
    engine = posterior_engine(est, X)
    assert isinstance(engine, EnsemblePosteriorUR) and len(engine.members) == 2
    assert isinstance(posterior_engine(_fit(X, Y, cells, train), X), PosteriorUR)
    member_var = np.mean([m.predict(Xm, return_std=True)[1] ** 2
                          for m, Xm in zip(est.members_, est.member_inputs(X))], axis=0)
    before = engine.variance().sum()
    assert before == pytest.approx(est.calib_scale_**2 * member_var.sum(), rel=1e-9)
    # the ensemble's own variance adds the members' spread: never below the label-free part
    assert np.sum(est.predict(X, return_std=True)[1] ** 2) >= before * (1 - 1e-9)
    c = int(np.flatnonzero(~train)[0])
    red = engine.reductions([c])[0]
    assert red > 0
    engine.add(c)
    assert before - engine.variance().sum() == pytest.approx(red, rel=1e-9)
    for m, Xm, sub in zip(est.members_, est.member_inputs(X), engine.members):
        assert np.allclose(sub.C, m.posterior_covariance(Xm, X_extra=Xm[[c]]), atol=1e-8)


def test_engine_size_must_match_the_pool():
    X, valence, train, Y, cells = _fixture_pool()
    est = _fit(X, Y, cells, train)
    from amorphxas.forward.ridge import ForwardError

    with pytest.raises(ForwardError, match="pool rows"):
        select_ur(None, train[:-1], 3, 1.0, engine=PosteriorUR.from_model(est, X))


def test_select_compact_on_a_fixture_dataset(tmp_path):
    """End to end on a hand-made fixture dataset (rattled crystal cells, fixture spectra)."""
    from amorphxas.dataset import create, store, transaction
    from amorphxas.dataset.testset import is_test_reserved
    from amorphxas.forward import select_sites_for_dataset
    from amorphxas.forward.select_compact import select_compact

    from .conftest import write_crystal_cells

    grid = np.linspace(1830.0, 1880.0, 256)
    path = create(tmp_path / "fixture_dataset.h5", grid)
    cells = write_crystal_cells(path, [("q0", "quartz"), ("q1", "quartz"), ("s0", "silicon"),
                                       ("s1", "silicon")], rattle=0.08)
    computed: set = set()
    for name, (atoms, si) in cells.items():
        valence = 4 if name.startswith("q") else 0
        with transaction(path) as h5:
            for j, i in enumerate(si[: si.size // 2]):  # half of each cell computed
                y = 1.0 + 0.1 * valence + 0.01 * np.sin(np.linspace(0, 3, 256) + j)
                store.add_spectrum(h5, name, int(i), y, 1840.0, np.arange(3.0), np.ones((1, 3)), {})
        computed.update({(name, int(i)) for i in si[: si.size // 2]})
    sites, info = select_compact(path, 10, "ur-stratified", seed=0)
    assert info["ur_model"] == "compact" and info["n_train"] >= 10
    # the model is the default of `amorphxas train forward`: the ensemble, one alpha per member
    from amorphxas.forward.compact_model import DEFAULT_ENSEMBLE

    assert info["estimator"] == "EnsembleSpectrum"
    assert info["n_members"] == len(DEFAULT_ENSEMBLE["members"]) == len(info["alpha"]) == 2
    assert info["pool_variance_after"] < info["pool_variance_before"]
    keys = [(s["cell_id"], s["atom_index"]) for s in sites]
    assert len(set(keys)) == len(keys) == 10 and not set(keys) & computed
    reserved = is_test_reserved([k[0] for k in keys], [k[1] for k in keys])
    assert not reserved[:8].any() and reserved[8:].all()  # 20 % of the batch: the test reserve
    assert select_sites_for_dataset(path, 10, "ur-stratified") == sites
