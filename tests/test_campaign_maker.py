"""The campaign as definition + execution: a CampaignMaker holds its parameters and runs nothing
until ``.run``; ``.run`` on a dataset of two tiny real cells, with the QE stand-ins of
tests/qe_stub.py (a hand-made engine stub: a Lorentzian, never data), reports every finished
site to its progress callback and returns the counts the ``amorphxas compute`` command prints."""

import os
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest
from typer.testing import CliRunner

import amorphxas.spectra.campaign as campaign
from amorphxas.cli import app
from amorphxas.dataset import load_spectra, store
from amorphxas.spectra.campaign import CampaignMaker, Resources, SiteEvent, SiteSelection
from amorphxas.spectra.cluster import ClusterConfig
from amorphxas.spectra.qe import PRESETS
from tests.qe_stub import read_journal, write_stub_engine
from tests.test_campaign import STUB_CONSTANT, _tiny_dataset


def test_a_maker_holds_its_parameters_and_runs_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("making a campaign ran part of it")

    for name in ("run_campaign", "compute_references", "compute_bader", "select_sites"):
        monkeypatch.setattr(campaign, name, refuse)
    maker = CampaignMaker("fast", SiteSelection("random", n=3, seed=7),
                          resources=Resources(workers=2, procs=1, budget_minutes=5.0,
                                              scratch=tmp_path / "scratch"),
                          references=False)
    assert (maker.selection.how, maker.selection.n, maker.selection.seed) == ("random", 3, 7)
    assert maker.bader and not maker.references and maker.max_attempts == 2
    assert maker.settings() == replace(PRESETS["fast"], n_procs=1)
    assert not (tmp_path / "scratch").exists()
    with pytest.raises(FrozenInstanceError):
        maker.protocol = "production-v4"
    # the defaults are those of `amorphxas compute`
    default = CampaignMaker()
    assert default.settings() == replace(PRESETS["production-v4"], n_procs=2)
    assert (default.selection.how, default.selection.n, default.resources.workers) == ("stratified", 10, 1)
    # a batch cluster's workers, ranks per site and scratch replace the local resources
    hpc = ClusterConfig(kind="slurm", cores=8, jobs=3, ranks_per_site=2, scratch=str(tmp_path / "hpc"))
    batch = CampaignMaker(resources=Resources(workers=1, procs=4, cluster=hpc)).resources.resolved()
    assert (batch.workers, batch.procs, batch.scratch) == (hpc.workers, 2, tmp_path / "hpc")
    assert hpc.workers == 12


@pytest.fixture
def stub_path(tmp_path, monkeypatch):
    """pw.x and xspectra.x stand-ins first on PATH; their journal file."""
    stub = write_stub_engine(tmp_path / "bin", {"pw.x": 0.05, "xspectra.x": 0.02})
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return stub["journal"]


def test_run_reports_every_finished_site_and_returns_the_counts(si8, quartz9, tmp_path, stub_path):
    path = _tiny_dataset(tmp_path / "maker" / "d.h5", si8, quartz9, STUB_CONSTANT)
    maker = CampaignMaker("fast", SiteSelection(n=3), references=False, bader=False,
                          resources=Resources(procs=1, scratch=tmp_path / "s1"))
    events, lines = [], []
    stats = maker.run(path, progress=events.append, log=lines.append)
    assert (stats["done"], stats["failed"], stats["skipped"], stats["interrupted"]) == (3, 0, 0, False)
    assert all(isinstance(e, SiteEvent) and e.ok and e.total == 3 for e in events)
    assert [e.done for e in events] == [1, 2, 3]
    assert {e.key for e in events} == store.done_keys(path)
    assert "3 sites to compute" in lines
    core_hole_runs = [e for e in read_journal(stub_path)
                      if e["program"] == "pw.x" and e["prefix"] == "ch" and e["event"] == "end"]
    assert len(core_hole_runs) == 3

    # the command line is the same campaign: same sites, same spectra, the same counts printed
    cli_path = _tiny_dataset(tmp_path / "cli" / "d.h5", si8, quartz9, STUB_CONSTANT)
    result = CliRunner().invoke(app, ["compute", str(cli_path), "--n", "3", "--protocol", "fast",
                                      "--procs", "1", "--no-references", "--no-bader",
                                      "--scratch", str(tmp_path / "s2")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 sites to compute" in text and "done 3, failed 0, skipped 0" in text
    assert all(f"site {e.key} done" in text for e in events)
    mine, theirs = load_spectra(path), load_spectra(cli_path)
    first = {f"{c}:{i}": row for row, (c, i) in enumerate(zip(mine.cell_id, mine.atom_index))
             if f"{c}:{i}" in {e.key for e in events}}
    assert sorted(first) == sorted(f"{c}:{i}" for c, i in zip(theirs.cell_id, theirs.atom_index))
    for row, (c, i) in enumerate(zip(theirs.cell_id, theirs.atom_index)):
        np.testing.assert_allclose(theirs.intensity[row], mine.intensity[first[f"{c}:{i}"]], rtol=1e-12)
