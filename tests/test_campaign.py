"""The resumable campaign on tiny real cells: resume equals uninterrupted, failures are recorded,
and a kill -9 leaves a valid dataset without lost or duplicated sites."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest
from ase.io import write

from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.dataset import create, load_spectra, store, transaction, validate
from amorphxas.spectra.campaign import SiteTask, add_cells, run_campaign, select_sites
from amorphxas.spectra.qe import PRESETS
from tests.conftest import needs_qe

TINY = replace(PRESETS["fast"], xs_polarisations=((1, 0, 0),), xs_niter=200, xs_nepoint=401)
CONSTANT = 1905.0  # eV; puts the tiny cells' spectra inside the common grid (tests only)
STUB_CONSTANT = 1840.0  # eV; the same for tests/qe_stub.py's Lorentzian (raw 17 eV)


def _tiny_dataset(path, si8, quartz9, constant=CONSTANT):
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path.parent / "si8.extxyz", si8)
    write(path.parent / "qz9.extxyz", quartz9)
    create(path, COMMON_GRID)
    add_cells(path, [path.parent / "si8.extxyz", path.parent / "qz9.extxyz"])
    with transaction(path) as h5:
        h5["spectra"].attrs["alignment_constant_eV"] = constant
    return path


def test_add_cells_and_stratified_selection(si8, quartz9, tmp_path):
    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    validate(path)
    tasks = select_sites(path, "stratified", n=4)
    assert len(tasks) == 4
    valences = []
    with h5py.File(path, "r") as h5:
        for t in tasks:
            group = h5["sites"][t.cell_id]
            row = list(group["atom_index"][()]).index(t.atom_index)
            valences.append(int(group["valence"][row]))
    assert sorted(valences[:2]) == [0, 4]  # both valence strata served first


@needs_qe
def test_resumed_campaign_equals_uninterrupted(si8, quartz9, tmp_path):
    tasks = [SiteTask("si8", 0), SiteTask("qz9", 0)]
    whole = _tiny_dataset(tmp_path / "a" / "d.h5", si8, quartz9)
    parts = _tiny_dataset(tmp_path / "b" / "d.h5", si8, quartz9)
    run_campaign(whole, tasks, TINY, tmp_path / "scratch_a", progress=False)
    first = run_campaign(parts, tasks[:1], TINY, tmp_path / "scratch_b", progress=False)
    second = run_campaign(parts, tasks, TINY, tmp_path / "scratch_b", progress=False)
    assert (first["done"], second["done"], second["skipped"]) == (1, 1, 1)
    a, b = load_spectra(whole), load_spectra(parts)
    order_a = np.lexsort((a.atom_index, a.cell_id.astype(str)))
    order_b = np.lexsort((b.atom_index, b.cell_id.astype(str)))
    assert list(a.cell_id[order_a]) == list(b.cell_id[order_b]) == ["qz9", "si8"]
    np.testing.assert_allclose(a.intensity[order_a], b.intensity[order_b], rtol=1e-4,
                               atol=1e-6 * a.intensity.max())


@needs_qe
def test_failing_pw_is_recorded_not_fatal(si8, quartz9, tmp_path):
    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    broken = replace(TINY, mixing_mode="no-such-mode")
    stats = run_campaign(path, [SiteTask("si8", 0)], broken, tmp_path / "s", max_attempts=2,
                         progress=False)
    assert stats["failed"] == 2 and stats["done"] == 0
    assert store.failure_attempts(path) == {"si8:0": 2}
    with h5py.File(path, "r") as h5:
        assert "pw.x failed" in h5["failures/si8:0"].attrs["error"]
    again = run_campaign(path, [SiteTask("si8", 0)], broken, tmp_path / "s", max_attempts=2,
                         progress=False)
    assert again["skipped"] == 1 and again["failed"] == 0


@needs_qe
@pytest.mark.slow
def test_kill_minus_9_leaves_valid_dataset(si8, quartz9, tmp_path):
    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    wanted = [{"cell_id": "si8", "atom_index": i} for i in range(4)] + [
        {"cell_id": "qz9", "atom_index": i} for i in range(2)]
    (tmp_path / "sites.json").write_text(json.dumps(wanted))
    cmd = [sys.executable, "-m", "amorphxas.cli", "compute", str(path), "--sites",
           str(tmp_path / "sites.json"), "--preset", "fast", "--no-references", "--no-bader",
           "--scratch", str(tmp_path / "s")]
    for delay in (8.0, 15.0, 25.0):
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        validate(path)
        spectra = load_spectra(path)
        keys = [f"{c}:{i}" for c, i in zip(spectra.cell_id, spectra.atom_index)]
        assert len(keys) == len(set(keys))
        assert set(keys) == store.done_keys(path)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert store.done_keys(path) == {f"{w['cell_id']}:{w['atom_index']}" for w in wanted}


FAKE_LD1 = """#!/bin/sh
# stand-in for ld1.x (test tooling): a core-hole UPF with a 3-point mesh and core orbital
cat > Si.pbe-1s1-rrkjus-gipaw.UPF <<'UPF'
<UPF version="2.0.1"><PP_MESH><PP_R type="real" size="3"> 0.1 0.2 0.3 </PP_R></PP_MESH>
<PP_GIPAW_CORE_ORBITAL.1 label="1S"> 0.5 0.4 0.1 </PP_GIPAW_CORE_ORBITAL.1></UPF>
UPF
"""


def test_kill_minus_9_with_a_stub_engine_loses_and_duplicates_nothing(si8, quartz9, tmp_path):
    """The default-run version of the slow kill -9 test: the real CLI campaign, with stand-ins
    for pw.x/xspectra.x/ld1.x (tests/qe_stub.py: sleeps, a Lorentzian spectrum), killed with
    SIGKILL (whole process group) after a varying number of DFT runs, four times, then resumed.
    After every kill the dataset validates, every stored spectrum is a done site exactly once;
    the resumed run computes only the missing sites and completes every wanted site once."""
    from tests.qe_stub import read_journal, write_stub_engine

    stub = write_stub_engine(tmp_path / "bin", {"pw.x": 0.2, "xspectra.x": 0.05})
    (tmp_path / "bin" / "ld1.x").write_text(FAKE_LD1)
    (tmp_path / "bin" / "ld1.x").chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}",
               AMORPHXAS_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    env.pop("AMORPHXAS_PSEUDO_DIR", None)
    wanted = [{"cell_id": "si8", "atom_index": i} for i in range(0, 8, 2)] + [
        {"cell_id": "qz9", "atom_index": i} for i in range(3)]
    (tmp_path / "sites.json").write_text(json.dumps(wanted))
    wanted_keys = {f"{w['cell_id']}:{w['atom_index']}" for w in wanted}

    def command(path, scratch):
        return [sys.executable, "-m", "amorphxas.cli", "compute", str(path), "--sites",
                str(tmp_path / "sites.json"), "--preset", "fast", "--procs", "1",
                "--no-references", "--no-bader", "--scratch", str(scratch)]

    path = _tiny_dataset(tmp_path / "kill" / "d.h5", si8, quartz9, STUB_CONSTANT)
    seen = []
    # journal lines (2 per DFT run, 8 per site) before the kill: 10 is just after the first
    # site's last xspectra run, while its spectrum is written; the others fall mid-site
    for events in (10, 13, 18, 21):
        stub["journal"].unlink(missing_ok=True)
        process = subprocess.Popen(command(path, tmp_path / "s"), env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(read_journal(stub["journal"])) < events and process.poll() is None:
            assert time.monotonic() < deadline, "the campaign made no progress"
            time.sleep(0.02)
        assert process.poll() is None, "the campaign ended before the kill"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        validate(path)
        spectra = load_spectra(path)
        keys = [f"{c}:{i}" for c, i in zip(spectra.cell_id, spectra.atom_index)]
        assert len(keys) == len(set(keys)) and set(keys) == store.done_keys(path)
        assert set(keys) <= wanted_keys and store.failure_attempts(path) == {}
        seen.append(len(keys))
    assert seen == sorted(seen) and 0 < seen[-1] < len(wanted), seen  # killed mid-campaign
    stub["journal"].unlink()
    subprocess.run(command(path, tmp_path / "s"), env=env, check=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    validate(path)
    spectra = load_spectra(path)
    keys = [f"{c}:{i}" for c, i in zip(spectra.cell_id, spectra.atom_index)]
    assert sorted(keys) == sorted(wanted_keys) and store.done_keys(path) == wanted_keys
    # the resumed run computed exactly the sites still missing, none twice
    core_hole_runs = [e for e in read_journal(stub["journal"])
                      if e["program"] == "pw.x" and e["prefix"] == "ch" and e["event"] == "end"]
    assert len(core_hole_runs) == len(wanted) - seen[-1]
    # every record is whole: its intensity is its own raw spectrum aligned and broadened
    from amorphxas.core.spectrum import DEFAULT_BROADENING, broaden

    with h5py.File(path, "r") as h5:
        for row, key in enumerate(keys):
            raw = h5["spectra/raw"][key]
            expected = broaden(raw["energy"][()] + STUB_CONSTANT, raw["sigma"][()].mean(axis=0),
                               COMMON_GRID, DEFAULT_BROADENING, TINY.xs_gamma)
            np.testing.assert_allclose(h5["spectra/intensity"][row], expected, rtol=1e-12)
            assert raw["sigma"].shape[0] == 3


@needs_qe
def test_sigterm_stops_running_dft_at_once(si8, quartz9, tmp_path):
    """SIGTERM ends the campaign in seconds, not after the running DFT job: the job is
    terminated, nothing is written for its site (it is redone on restart)."""
    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    (tmp_path / "sites.json").write_text(json.dumps([{"cell_id": "si8", "atom_index": 0},
                                                     {"cell_id": "si8", "atom_index": 1}]))
    fake_bin = tmp_path / "bin"  # stand-ins for pw.x/xspectra.x that would run for two minutes
    fake_bin.mkdir()
    started = tmp_path / "dft_pids"
    for name in ("pw.x", "xspectra.x"):
        (fake_bin / name).write_text(f"#!/bin/sh\necho $$ >> {started}\nexec sleep 120\n")
        (fake_bin / name).chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}")
    cmd = [sys.executable, "-m", "amorphxas.cli", "compute", str(path), "--sites",
           str(tmp_path / "sites.json"), "--preset", "fast", "--procs", "1", "--workers", "2",
           "--no-references", "--no-bader", "--scratch", str(tmp_path / "s")]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not started.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.is_file(), "the campaign never started a DFT run"
    time.sleep(1.0)
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert time.monotonic() - stopped_at < 30  # the fake DFT run alone lasts 120 s
    for pid in map(int, started.read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    validate(path)
    assert store.done_keys(path) == set()
    assert store.failure_attempts(path) == {}


def test_only_bader_covers_cells_without_spectra(si8, quartz9, tmp_path, monkeypatch):
    """compute_bader's default skips cells without spectra; with_spectra_only=False (the CLI's
    --only-bader) stores a charge for every Si of every cell. The DFT is replaced by a stand-in
    that returns the atom index as its 'charge', to check the bookkeeping only."""
    import amorphxas.spectra.bader as bader
    from amorphxas.dataset import load_sites
    from amorphxas.spectra.campaign import compute_bader

    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    monkeypatch.setattr(bader, "bader_charges",
                        lambda atoms, workdir, settings: np.arange(len(atoms), dtype=float))
    assert compute_bader(path, TINY, tmp_path / "s") == []
    assert sorted(compute_bader(path, TINY, tmp_path / "s", with_spectra_only=False)) == ["qz9", "si8"]
    sites = load_sites(path)
    np.testing.assert_array_equal(sites.bader_charge, sites.atom_index.astype(float))
    assert compute_bader(path, TINY, tmp_path / "s", with_spectra_only=False) == []


def test_fork_and_recut_move_a_site_to_the_fermi_cut_protocol(si8, quartz9, tmp_path):
    """A site computed under ``production`` is re-evaluated from its Lanczos chains under
    ``production-v3`` (no DFT); the stored curve equals an independent evaluation."""
    from pathlib import Path

    from amorphxas.core.spectrum import DEFAULT_BROADENING, broaden
    from amorphxas.spectra.campaign import recut_site, reevaluate_dataset
    from amorphxas.spectra.lanczos import (
        RY_EV,
        chains_from_arrays,
        cross_section,
        read_save_file,
    )

    chain = read_save_file(Path(__file__).parent / "data" / "lanczos_x1.75_site51_pol0.sav")
    source = _tiny_dataset(tmp_path / "v2" / "old.h5", si8, quartz9)
    xe0, delta = 5.7383, -60.8
    energy_rel = np.linspace(-15.0, 55.0, 1401)
    raw_energy = energy_rel + xe0 + delta
    production = PRESETS["production"]
    sigma = np.array([cross_section(chain, energy_rel, xe0, 0.3)] * 3)
    with transaction(source) as h5:
        store.add_spectrum(h5, "si8", 0, np.ones(COMMON_GRID.size), 1840.0, raw_energy, sigma,
                           {"atom_index": 0, "xe0": xe0, "delta_total_energy": delta,
                            "ground_state_energy": -1000.0, "core_hole_energy": -1060.8,
                            "core_hole_iterations": 14, "seconds": {"core_hole_scf": 300.0}})
        h5["spectra"].attrs["settings"] = json.dumps(production.as_dict())
    target = store.fork(source, tmp_path / "v3" / "new.h5")
    with h5py.File(target) as h5:
        assert set(h5["structures"]) == {"si8", "qz9"} and h5["spectra/intensity"].shape[0] == 0
    with transaction(target) as h5:
        h5["spectra"].attrs["alignment_constant_eV"] = CONSTANT

    recut_site(source, target, "si8", 0, [chain] * 3)
    v3 = PRESETS["production-v3"]
    expected = broaden(raw_energy + CONSTANT,
                       cross_section(chain.truncated(v3.xs_niter), energy_rel, xe0, 0.3,
                                     occupied_width=v3.degauss * RY_EV),
                       COMMON_GRID, DEFAULT_BROADENING, 0.3)
    with h5py.File(target) as h5:
        assert np.allclose(h5["spectra/intensity"][0], expected, rtol=1e-10, atol=0)
        assert json.loads(h5["spectra"].attrs["settings"])["occupied_cut"] == "fermi"
        stored = chains_from_arrays(h5["spectra/raw/si8:0"])
    assert len(stored) == 3 and np.array_equal(stored[0].a, chain.a[:, :120])
    with pytest.raises(Exception, match="already in the dataset"):
        recut_site(source, target, "si8", 0, [chain] * 3)

    again = tmp_path / "v3" / "again.h5"
    assert reevaluate_dataset(target, again, log=lambda *_: None) == 1
    with h5py.File(again) as h5:
        assert np.allclose(h5["spectra/intensity"][0], expected, rtol=1e-10, atol=0)
        assert json.loads(h5["spectra/raw/si8:0"].attrs["seconds"])["recut_from"] == "old.h5"
        assert h5["spectra"].attrs["alignment_constant_eV"] == CONSTANT
    with pytest.raises(Exception, match="exists"):
        reevaluate_dataset(target, again)

    # v3 -> v4: the same chains, only the four fcc points of the 2x2x2 mesh
    v4 = PRESETS["production-v4"]
    subset = reevaluate_dataset(target, tmp_path / "v4" / "sub.h5", target_preset="production-v4",
                                log=lambda *_: None)
    fcc = chain.kpoints([0, 3, 5, 6])
    expected_v4 = broaden(raw_energy + CONSTANT,
                          cross_section(fcc, energy_rel, xe0, 0.3, occupied_width=v4.degauss * RY_EV),
                          COMMON_GRID, DEFAULT_BROADENING, 0.3)
    with h5py.File(tmp_path / "v4" / "sub.h5") as h5:
        assert subset == 1
        assert np.allclose(h5["spectra/intensity"][0], expected_v4, rtol=1e-10, atol=0)
        assert not np.allclose(expected_v4, expected, rtol=1e-3, atol=0)
        assert h5["spectra/raw/si8:0/lanczos_a"].shape == (3, 4, 120)
        assert json.loads(h5["spectra"].attrs["settings"])["xs_kpoint_shifts"] == [
            [0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]]
    with pytest.raises(Exception, match="hold the k-points"):  # four points cannot become eight
        reevaluate_dataset(tmp_path / "v4" / "sub.h5", tmp_path / "v4" / "back.h5",
                           preset="production-v4", target_preset="production-v3")
    # v4 -> screening-gamma: its Gamma chains only (a subset of the stored subset)
    reevaluate_dataset(tmp_path / "v4" / "sub.h5", tmp_path / "v4" / "screen.h5",
                       preset="production-v4", target_preset="screening-gamma", log=lambda *_: None)
    expected_gamma = broaden(raw_energy + CONSTANT,
                             cross_section(chain.kpoints([0]), energy_rel, xe0, 0.3,
                                           occupied_width=v4.degauss * RY_EV),
                             COMMON_GRID, DEFAULT_BROADENING, 0.3)
    with h5py.File(tmp_path / "v4" / "screen.h5") as h5:
        assert np.allclose(h5["spectra/intensity"][0], expected_gamma, rtol=1e-10, atol=0)
        assert not np.allclose(expected_gamma, expected_v4, rtol=1e-3, atol=0)
        assert h5["spectra/raw/si8:0/lanczos_a"].shape == (3, 1, 120)

    # a v4 dataset that also holds a Gamma screening row (one k-point, its own settings):
    # re-evaluated to v4 the row stays Gamma; to screening-gamma both rows are Gamma spectra
    from amorphxas.core.errors import DatasetError
    from amorphxas.dataset import info, results
    from amorphxas.spectra import reevaluate as reevaluate_module
    from amorphxas.spectra.records import write_sites
    from amorphxas.spectra.selection import SiteTask

    mixed = tmp_path / "v4" / "sub.h5"
    raw = results.read_site_raw(mixed, "si8:0")
    gamma_row = reevaluate_module._evaluated(dict(raw.attrs, atom_index=1), raw.energy,
                                             [chain.kpoints([0])] * 3, PRESETS["screening-gamma"],
                                             held=[0])
    write_sites(mixed, [(SiteTask("si8", 1), gamma_row)], PRESETS["screening-gamma"],
                DEFAULT_BROADENING, {}, protocol=v4)
    assert info(mixed)["n_sites_by_fidelity"] == {"v4": 1, "gamma": 1}
    reevaluate_dataset(mixed, tmp_path / "v4" / "again.h5", preset="production-v4",
                       log=lambda *_: None)
    assert info(tmp_path / "v4" / "again.h5")["n_sites_by_fidelity"] == {"v4": 1, "gamma": 1}
    reevaluate_dataset(mixed, tmp_path / "v4" / "screen2.h5", preset="production-v4",
                       target_preset="screening-gamma", log=lambda *_: None)
    with h5py.File(tmp_path / "v4" / "again.h5") as again_v4, \
            h5py.File(tmp_path / "v4" / "screen2.h5") as screen:
        assert np.allclose(again_v4["spectra/intensity"][0], expected_v4, rtol=1e-10, atol=0)
        for h5 in (again_v4, screen):  # the Gamma row is the Gamma spectrum in both
            assert np.allclose(h5["spectra/intensity"][1], expected_gamma, rtol=1e-10, atol=0)
        assert np.allclose(screen["spectra/intensity"][0], expected_gamma, rtol=1e-10, atol=0)
    # a re-evaluation that fails half-way leaves neither the new file nor a partial one
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reevaluate_module, "write_sites",
                      lambda *a, **k: (_ for _ in ()).throw(DatasetError("disk full")))
        with pytest.raises(DatasetError, match="disk full"):
            reevaluate_dataset(mixed, tmp_path / "v4" / "broken.h5", preset="production-v4",
                               log=lambda *_: None)
    assert not list((tmp_path / "v4").glob("broken.h5*"))
    with pytest.raises(Exception, match="differ in xs_error"):
        reevaluate_dataset(target, tmp_path / "v4" / "gamma.h5", target_preset="production-gamma")
    with pytest.raises(Exception, match="keeps no chains"):
        reevaluate_dataset(source, tmp_path / "v2" / "again.h5", preset="production")

    gamma = _tiny_dataset(tmp_path / "g" / "gamma.h5", si8, quartz9)
    with transaction(gamma) as h5:
        h5["spectra"].attrs["settings"] = json.dumps(PRESETS["production-gamma"].as_dict())
    with pytest.raises(Exception, match="protocols differ in xs_error, xs_kpoints"):
        recut_site(gamma, target, "si8", 0, [chain] * 3)


def test_a_dataset_keeps_its_protocol():
    """Runtime choices (ranks, gamma_only SCF) may change; a protocol field may not."""
    from amorphxas.core.errors import DatasetError
    from amorphxas.dataset import embedded_path
    from amorphxas.spectra.campaign import settings_for_dataset

    shipped = embedded_path()
    own = settings_for_dataset(shipped, "production-v4")
    assert own == PRESETS["production-v4"]
    settings_for_dataset(shipped, replace(own, n_procs=2, core_hole_gamma_only=False))
    with pytest.raises(DatasetError, match="xs_kpoint_shifts"):
        settings_for_dataset(shipped, "production-v3")


def test_cli_accepts_every_engine_preset_and_refuses_others(si8, quartz9, tmp_path, monkeypatch):
    """The CLI's --preset choices are the engine's presets: each one reaches get_settings (the
    Bader DFT replaced by a stand-in), an unknown name is a usage error before any work."""
    from typer.testing import CliRunner

    import amorphxas.spectra.bader as bader
    from amorphxas.cli import app

    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    monkeypatch.setattr(bader, "bader_charges",
                        lambda atoms, workdir, settings: np.zeros(len(atoms)))
    runner = CliRunner()
    for name in PRESETS:
        result = runner.invoke(app, ["compute", str(path), "--only-bader", "--preset", name,
                                     "--scratch", str(tmp_path / "s")])
        assert result.exit_code == 0, (name, result.output)
    result = runner.invoke(app, ["compute", str(path), "--only-bader", "--preset", "production-v9"])
    assert result.exit_code == 2 and "production-v9" in result.output


def test_a_campaign_refuses_a_broadening_other_than_the_datasets(si8, quartz9, tmp_path):
    """One dataset, one width: a run, a reference or a written site with another broadening is
    refused in one line before any DFT (no pw.x is needed to see it), the dataset unchanged."""
    from amorphxas.core.errors import DatasetError
    from amorphxas.core.spectrum import DEFAULT_BROADENING, STUDY1
    from amorphxas.spectra.campaign import _write_sites, compute_references, write_reference
    from amorphxas.spectra.site import SiteResult

    path = _tiny_dataset(tmp_path / "d.h5", si8, quartz9)
    energy = np.linspace(-80.0, -20.0, 601)
    fake = SiteResult(0, energy, np.ones((3, energy.size)) / (1 + (energy + 55) ** 2), 5.0, -60.0,
                      -100.0, -160.0, 10, {})  # hand-made test fixture, not DFT
    _write_sites(path, [(SiteTask("si8", 0), fake)], TINY, DEFAULT_BROADENING, {})
    before = path.read_bytes()
    message = r"broadened with \{'kind': 'lorentzian', 'sigma': 1.0, 'gamma': 0.8\}, not .*gaussian"
    with pytest.raises(DatasetError, match=message) as exc:
        run_campaign(path, [SiteTask("si8", 1)], TINY, tmp_path / "s", broadening=STUDY1,
                     progress=False)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(DatasetError, match="one dataset holds one broadening"):
        _write_sites(path, [(SiteTask("si8", 1), replace(fake, atom_index=1))], TINY, STUDY1, {})
    with pytest.raises(DatasetError, match="one dataset holds one broadening"):
        compute_references(path, TINY, tmp_path / "s", broadening=STUDY1, log=lambda *a: None)
    with pytest.raises(DatasetError, match="one dataset holds one broadening"):
        write_reference(path, "alpha-quartz", quartz9, fake, TINY, STUDY1, {})
    assert path.read_bytes() == before
    # the dataset's own width is accepted, and a reference written first records it
    _write_sites(path, [(SiteTask("si8", 1), replace(fake, atom_index=1))], TINY,
                 DEFAULT_BROADENING, {})
    fresh = _tiny_dataset(tmp_path / "fresh" / "d.h5", si8, quartz9)
    write_reference(fresh, "alpha-quartz", quartz9, fake, TINY, STUDY1, {})
    with pytest.raises(DatasetError, match="one dataset holds one broadening"):
        _write_sites(fresh, [(SiteTask("si8", 0), fake)], TINY, DEFAULT_BROADENING, {})
