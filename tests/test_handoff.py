"""`compute --write-inputs` / `dataset ingest` (QE run by the user) and `dataset merge`.

The QE programs are the stand-ins of tests/qe_stub.py (a hand-made engine stub: a Lorentzian,
no DFT); what is tested is the bookkeeping: the written inputs run as they are, their outputs
become the same stored spectra as the campaign's, failures are recorded, sites land once."""

import json
import os
import shutil
import subprocess
from dataclasses import replace

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from amorphxas.cli import app
from amorphxas.core.errors import DatasetError
from amorphxas.dataset import load_spectra, store, transaction, validate
from amorphxas.dataset.merge import merge
from amorphxas.spectra.campaign import SiteTask, run_campaign
from amorphxas.spectra.qe import PRESETS, Executables
from tests.qe_stub import write_stub_engine
from tests.test_campaign import _tiny_dataset

STUB_CONSTANT = 1840.0  # eV: the stand-in's Lorentzian (raw 17 eV) inside the common grid
FAST_1 = replace(PRESETS["fast"], n_procs=1)


def _dataset(path, si8, quartz9, constant=STUB_CONSTANT):
    path = _tiny_dataset(path, si8, quartz9)
    with transaction(path) as h5:
        h5["spectra"].attrs["alignment_constant_eV"] = constant
    return path


def _cli(*args):
    """The command line in this process (result: returncode, stdout, stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    result.returncode = result.exit_code
    result.text = " ".join(result.stdout.split())  # rich wraps long lines
    return result


def _stub_campaign(path, tasks, stub, tmp_path):
    executables = Executables(pw=str(stub["pw.x"]), xspectra=str(stub["xspectra.x"]))
    return run_campaign(path, tasks, FAST_1, tmp_path / "scratch", progress=False,
                        executables=executables)


def _keys(path):
    spectra = load_spectra(path)
    return sorted(f"{c}:{i}" for c, i in zip(spectra.cell_id, spectra.atom_index))


def test_written_inputs_run_by_hand_ingest_like_the_campaign(si8, quartz9, tmp_path):
    stub = write_stub_engine(tmp_path / "bin", {})
    path = _dataset(tmp_path / "user" / "d.h5", si8, quartz9)
    wanted = [{"cell_id": "si8", "atom_index": 0}, {"cell_id": "qz9", "atom_index": 0},
              {"cell_id": "si8", "atom_index": 1}]
    (tmp_path / "sites.json").write_text(json.dumps(wanted))
    inputs = tmp_path / "inputs"
    run = _cli("compute", path, "--sites", tmp_path / "sites.json", "--preset", "fast",
               "--procs", "1", "--write-inputs", inputs)
    assert run.returncode == 0, run.stderr
    site = inputs / "si8" / "site_0"
    assert "pseudo_dir = '../../pseudo'" in (site / "ch.in").read_text()
    assert "xe0 = @XE0@" in (site / "xanes_0.in.template").read_text()
    assert sorted(p.suffix for p in (inputs / "pseudo").iterdir()) == [".UPF"] * 3 + [".wfc"]
    manifest = json.loads((inputs / "manifest.json").read_text())
    assert [s["atom_index"] for s in manifest["sites"]] == [0, 0, 1]
    # the user runs two of the three sites (mpirun -np 1 of the stand-ins on PATH)
    env = dict(os.environ, PATH=f"{stub['pw.x'].parent}:{os.environ['PATH']}",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in ("si8/site_0", "qz9/site_0"):
        subprocess.run(["bash", "run.sh"], cwd=inputs / name, env=env, check=True, timeout=300)
    assert not (site / "out").exists()  # wavefunctions removed by the script
    # ... and the core-hole SCF of qz9:0 did not converge
    ch_out = inputs / "qz9" / "site_0" / "ch.out"
    ch_out.write_text(ch_out.read_text() + "\n     convergence NOT achieved after 150 iterations\n")
    run = _cli("dataset", "ingest", path, inputs, "--preset", "fast")
    assert run.returncode == 0, run.stderr
    assert "done 1, failed 1, pending 1, skipped 0" in run.text
    validate(path)
    assert _keys(path) == ["si8:0"]
    with h5py.File(path) as h5:
        failure = dict(h5["failures/qz9:0"].attrs)
    assert "SCF convergence NOT achieved" in failure["error"] and str(ch_out) in failure["error"]
    assert _cli("dataset", "ingest", path, inputs, "--preset", "fast").text.count("skipped 1")
    # the campaign on the same engine stores the same spectrum
    campaign = _dataset(tmp_path / "campaign" / "d.h5", si8, quartz9)
    assert _stub_campaign(campaign, [SiteTask("si8", 0)], stub, tmp_path)["done"] == 1
    mine, theirs = load_spectra(path), load_spectra(campaign)
    np.testing.assert_allclose(mine.intensity, theirs.intensity, rtol=1e-12)
    np.testing.assert_allclose(mine.edge_energy, theirs.edge_energy)
    with h5py.File(path) as a, h5py.File(campaign) as b:
        for name in ("xe0", "delta_total_energy", "core_hole_energy"):
            assert a["spectra/raw/si8:0"].attrs[name] == b["spectra/raw/si8:0"].attrs[name]
        assert a["spectra"].attrs["pseudopotentials"] == b["spectra"].attrs["pseudopotentials"]


def test_ingest_refuses_inputs_of_another_protocol(si8, quartz9, tmp_path):
    path = _dataset(tmp_path / "d.h5", si8, quartz9)
    (tmp_path / "sites.json").write_text(json.dumps([{"cell_id": "si8", "atom_index": 0}]))
    assert _cli("compute", path, "--sites", tmp_path / "sites.json", "--preset", "fast",
                "--write-inputs", tmp_path / "in").returncode == 0
    run = _cli("dataset", "ingest", path, tmp_path / "in", "--preset", "production-v4")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "inputs written under other DFT settings" in run.stderr and "ecutwfc" in run.stderr


def test_merge_keeps_each_site_once(si8, quartz9, tmp_path):
    stub = write_stub_engine(tmp_path / "bin", {})
    first = _dataset(tmp_path / "a" / "d.h5", si8, quartz9)
    second = _dataset(tmp_path / "b" / "d.h5", si8, quartz9)
    _stub_campaign(first, [SiteTask("si8", 0), SiteTask("qz9", 0)], stub, tmp_path / "a")
    _stub_campaign(second, [SiteTask("qz9", 0), SiteTask("si8", 1)], stub, tmp_path / "b")
    with transaction(second) as h5:
        store.record_failure(h5, "si8", 2, "pw.x failed: test", "log")
    counts = merge(first, second, tmp_path / "merged.h5")
    assert counts == {"from_first": 2, "added": 1, "in_both": 1}
    merged = tmp_path / "merged.h5"
    validate(merged)
    assert _keys(merged) == ["qz9:0", "si8:0", "si8:1"]
    assert store.done_keys(merged) == {"qz9:0", "si8:0", "si8:1"}
    assert store.failure_attempts(merged) == {"si8:2": 1}
    rows = load_spectra(merged)
    row = [f"{c}:{i}" for c, i in zip(rows.cell_id, rows.atom_index)].index("si8:1")
    np.testing.assert_array_equal(rows.intensity[row], load_spectra(second).intensity[1])
    again = _cli("dataset", "merge", merged, first, "-o", tmp_path / "again.h5")
    assert again.returncode == 0 and "0 added" in again.text and "2 in both" in again.text
    assert _keys(tmp_path / "again.h5") == _keys(merged)


def test_merge_refuses_another_alignment(si8, quartz9, tmp_path):
    stub = write_stub_engine(tmp_path / "bin", {})
    first = _dataset(tmp_path / "a" / "d.h5", si8, quartz9)
    second = _dataset(tmp_path / "b" / "d.h5", si8, quartz9, constant=STUB_CONSTANT + 0.5)
    _stub_campaign(second, [SiteTask("si8", 1)], stub, tmp_path / "b")
    with pytest.raises(DatasetError, match="alignment constant 1840.5000 eV"):
        merge(first, second, tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.h5.partial").exists()
    shutil.rmtree(tmp_path / "bin")


def test_ingest_records_a_crashed_qe_run_instead_of_a_spectrum(si8, quartz9, tmp_path):
    """xspectra.x stopped with QE's "Error in routine" block: the site is a failure naming the
    program, the routine and the log; no spectrum is stored; the other site still lands."""
    stub = write_stub_engine(tmp_path / "bin", {})
    path = _dataset(tmp_path / "d.h5", si8, quartz9)
    (tmp_path / "sites.json").write_text(json.dumps([{"cell_id": "si8", "atom_index": 0},
                                                     {"cell_id": "si8", "atom_index": 1}]))
    inputs = tmp_path / "inputs"
    assert _cli("compute", path, "--sites", tmp_path / "sites.json", "--preset", "fast",
                "--procs", "1", "--write-inputs", inputs).returncode == 0
    env = dict(os.environ, PATH=f"{stub['pw.x'].parent}:{os.environ['PATH']}",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in ("si8/site_0", "si8/site_1"):
        subprocess.run(["bash", "run.sh"], cwd=inputs / name, env=env, check=True, timeout=300)
    crashed = sorted((inputs / "si8" / "site_1").glob("xanes*.out"))[-1]
    crashed.write_text(" " + "%" * 78 + "\n     Error in routine read_core_abs (1):\n"
                       "     file core.wfc not found\n " + "%" * 78 + "\n")
    run = _cli("dataset", "ingest", path, inputs, "--preset", "fast")
    assert run.returncode == 0, run.stderr
    assert "done 1, failed 1, pending 0, skipped 0" in run.text
    validate(path)
    assert _keys(path) == ["si8:0"] and store.failure_attempts(path) == {"si8:1": 1}
    with h5py.File(path) as h5:
        failure = dict(h5["failures/si8:1"].attrs)
        assert "spectra/raw/si8:1" not in h5
    assert failure["error"] == (f"xspectra.x failed: read_core_abs: file core.wfc not found "
                                f"(log: {crashed})")
