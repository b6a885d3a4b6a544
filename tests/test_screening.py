"""A campaign with a screening protocol: training sites at Gamma, test-reserved sites at the
dataset's own protocol, one dataset.

The datasets are hand-made fixtures (two tiny real cells); no DFT runs: the site computation is
replaced by a recorder (its "results" are placeholders, never data) and stored rows are constant
fixture spectra with fixture chain counts."""

import json
from dataclasses import replace
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

import amorphxas.spectra.campaign as campaign
import amorphxas.spectra.records as records
from amorphxas.core.errors import DatasetError
from amorphxas.core.spectrum import COMMON_GRID, DEFAULT_BROADENING
from amorphxas.dataset import info, load_spectra, transaction
from amorphxas.dataset.results import SiteRecord
from amorphxas.dataset.testset import is_test_reserved
from amorphxas.spectra.campaign import CampaignMaker, Resources, SiteSelection, SiteTask
from amorphxas.spectra.protocol import check_screening
from amorphxas.spectra.qe import PRESETS
from tests.test_campaign import STUB_CONSTANT, _tiny_dataset

V4, GAMMA = PRESETS["production-v4"], PRESETS["screening-gamma"]


def _v4_dataset(path, si8, quartz9):
    path = _tiny_dataset(path, si8, quartz9, STUB_CONSTANT)
    with transaction(path) as h5:
        h5["spectra"].attrs["settings"] = json.dumps(V4.as_dict())
    return path


def test_screening_must_be_the_protocol_on_a_subset_of_its_kpoints():
    check_screening(V4, GAMMA)
    check_screening(V4, replace(GAMMA, n_procs=4))  # ranks are a runtime choice
    check_screening(V4, V4)
    for other in ("production-v3", "fast"):
        with pytest.raises(DatasetError, match="subset of its k-points"):
            check_screening(V4, PRESETS[other])
    with pytest.raises(DatasetError, match="ecutwfc"):
        check_screening(V4, replace(GAMMA, ecutwfc=40.0))
    with pytest.raises(DatasetError, match="subset"):  # Gamma data cannot be promoted to v4
        check_screening(GAMMA, V4)


def test_training_sites_use_the_screening_protocol_and_reserved_ones_the_datasets(
        si8, quartz9, tmp_path, monkeypatch):
    path = _v4_dataset(tmp_path / "d.h5", si8, quartz9)
    computed, written = {}, []

    def fake_compute(atoms, index, scratch, settings, *args, **kwargs):
        return SimpleNamespace(seconds={}, settings=settings)  # a placeholder, not a result

    def fake_write(dataset, done, settings, broadening, hashes, protocol=None):
        for task, result in done:
            computed[task.key] = result.settings
        written.append((settings, protocol))

    monkeypatch.setattr(campaign, "compute_site", fake_compute)
    monkeypatch.setattr(campaign, "write_sites", fake_write)
    tasks = [SiteTask("si8", i) for i in range(8)] + [SiteTask("qz9", i) for i in range(3)]
    reserved = is_test_reserved([t.cell_id for t in tasks], [t.atom_index for t in tasks])
    assert 0 < reserved.sum() < len(tasks)  # the fixture has both kinds of site
    stats = campaign.run_campaign(path, tasks, replace(V4, n_procs=1), tmp_path / "s",
                                  progress=False, screening=replace(GAMMA, n_procs=1))
    assert stats["done"] == len(tasks)
    for task, keep in zip(tasks, reserved):
        assert computed[task.key].xs_kpoint_shifts == (V4 if keep else GAMMA).xs_kpoint_shifts
    # every write names the dataset's own protocol, whatever the site's
    assert all(protocol.xs_kpoint_shifts == V4.xs_kpoint_shifts for _, protocol in written)

    # through the maker (what `amorphxas compute --screening screening-gamma` builds)
    computed.clear()
    maker = CampaignMaker("production-v4", SiteSelection("random", n=11), references=False,
                          bader=False, screening="screening-gamma",
                          resources=Resources(procs=1, scratch=tmp_path / "s2"))
    assert maker.screening_settings() == replace(GAMMA, n_procs=1)
    maker.run(path, progress=False, log=lambda *_: None)
    assert {s.xs_kpoint_shifts for s in computed.values()} == {V4.xs_kpoint_shifts,
                                                               GAMMA.xs_kpoint_shifts}


def test_a_screening_protocol_that_is_not_a_subset_is_refused_before_any_dft(
        si8, quartz9, tmp_path, monkeypatch):
    path = _v4_dataset(tmp_path / "d.h5", si8, quartz9)
    monkeypatch.setattr(campaign, "compute_site", lambda *a, **k: pytest.fail("DFT ran"))
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="subset of its k-points"):
        campaign.run_campaign(path, [SiteTask("si8", 0)], V4, tmp_path / "s", progress=False,
                              screening=PRESETS["production-v3"])
    assert path.read_bytes() == before


def test_a_gamma_row_keeps_the_datasets_protocol_and_records_its_own(si8, quartz9, tmp_path,
                                                                      monkeypatch):
    path = _v4_dataset(tmp_path / "d.h5", si8, quartz9)
    chains = {V4.xs_kpoint_shifts: 4, GAMMA.xs_kpoint_shifts: 1}

    def fixture_record(task, result, constant, settings, broadening):
        steps = {"lanczos_steps": np.full((3, chains[settings.xs_kpoint_shifts]), 10, np.int32)}
        return SiteRecord(task.cell_id, task.atom_index, np.ones(COMMON_GRID.size), 1846.0,
                          np.arange(3.0), np.ones((1, 3)), {}, steps,
                          fidelity=records.fidelity_of_settings(settings))

    monkeypatch.setattr(records, "site_record", fixture_record)
    records.write_sites(path, [(SiteTask("si8", 0), None)], V4, DEFAULT_BROADENING, {})
    records.write_sites(path, [(SiteTask("si8", 1), None)], GAMMA, DEFAULT_BROADENING, {},
                        protocol=V4)
    with h5py.File(path, "r") as h5:
        assert json.loads(h5["spectra"].attrs["settings"]) == json.loads(json.dumps(V4.as_dict()))
        assert "settings" not in h5["spectra/raw/si8:0"].attrs
        own = json.loads(h5["spectra/raw/si8:1"].attrs["settings"])
        assert own["xs_kpoint_shifts"] == [[0, 0, 0]]
    assert list(load_spectra(path).atom_index) == [0]  # the learners' default: v4 rows
    assert list(load_spectra(path, fidelity="gamma").atom_index) == [1]
    assert info(path)["n_sites_by_fidelity"] == {"v4": 1, "gamma": 1}


def _fixture_pool(fidelity):
    """A hand-made pool: 6 cells x 6 sites, valences 0..4 and one over-coordinated Si per cell."""
    from amorphxas.forward.pool import Pool

    n = len(fidelity)
    cell = np.array([f"c{k // 6}" for k in range(n)], dtype=object)
    valence = np.array([k % 6 for k in range(n)])
    has = np.array([f != "" for f in fidelity])
    return Pool(X_raw=np.zeros((n, 2)), cell_id=cell, atom_index=np.arange(n), valence=valence,
                has_spectrum=has, Y=np.where(has[:, None], 1.0, np.nan) * np.ones((n, 3)),
                energy=np.arange(3.0), scale=1.0, normalisation="fixture",
                fidelity=np.array(fidelity, dtype=object), primary_fidelity="v4")


@pytest.mark.parametrize("split", ["cell", "random"])
def test_screening_rows_train_but_never_test(split):
    from amorphxas.forward.pool import labelled_rows, make_split

    labels = ["v4" if k % 3 else "gamma" for k in range(72)]
    pool = _fixture_pool(labels)
    train, test = make_split(pool, split, seed=1)
    fid = pool.fidelity
    assert set(fid[test]) == {"v4"} and "gamma" in set(fid[train])
    assert not set(train) & set(test)
    gamma = [r for r in labelled_rows(pool) if fid[r] == "gamma"]
    if split == "cell":  # a test cell's Gamma rows would leak its structures into training
        test_cells = set(pool.cell_id[test])
        assert all((r in train) == (pool.cell_id[r] not in test_cells) for r in gamma)
    else:
        assert set(gamma) <= set(train)
    # without screening rows the split is the one drawn over the primary rows alone
    only_v4 = _fixture_pool([f if f == "v4" else "" for f in labels])
    train4, test4 = make_split(only_v4, split, seed=1)
    assert np.array_equal(test4, test)
    assert set(train4) == {r for r in train if fid[r] == "v4"}


def test_default_forward_training_takes_screening_rows_and_says_so(tmp_path):
    """A copy of the embedded dataset with a third of its v4 rows relabelled "gamma" (real v4
    spectra standing in for Gamma ones: a fixture of the bookkeeping, not of the physics)."""
    import shutil

    from amorphxas.dataset import embedded_path
    from amorphxas.forward.compact_model import train_compact
    from amorphxas.forward.pool import load_pool

    copy = tmp_path / "copy.h5"
    shutil.copy(embedded_path(), copy)
    with h5py.File(copy, "r+") as h5:
        labels = h5["spectra/fidelity"]
        n = labels.shape[0]
        labels[::3] = ["gamma"] * len(range(0, n, 3))
        n_gamma = sum(v == b"gamma" for v in labels[()])
    assert load_pool(copy, "physical").n_spectra == n - n_gamma  # the primary rows only
    both = load_pool(copy, "physical", fidelity="primary+screening")
    assert both.n_spectra == n and (both.fidelity == "gamma").sum() == n_gamma
    _, metrics = train_compact(copy, method="ridge", split="cell")
    assert metrics["test_fidelity"] == "v4"
    assert metrics["train_fidelity"]["gamma"] > 0
    assert metrics["n_train"] == sum(metrics["train_fidelity"].values())
    # active learning never picks a computed site again, whatever its fidelity
    from amorphxas.dataset import store
    from amorphxas.forward.select_compact import select_compact

    done = store.done_keys(copy)
    for strategy in ("ur-stratified", "random"):
        sites, _ = select_compact(copy, n=30, strategy=strategy)
        assert len(sites) == 30
        assert not {f"{s['cell_id']}:{s['atom_index']}" for s in sites} & done
