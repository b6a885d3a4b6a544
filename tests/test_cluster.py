"""The DFT campaign through a real SLURM (slurmctld + slurmd on localhost, tests/slurm_local.py).

Marked ``cluster`` (excluded by default; ``pytest -m cluster``). The engine is the stand-in of
tests/qe_stub.py where a test says so (scheduling, cancellation, walltime: sleeps, no DFT);
``test_real_qe_sites_through_slurm`` runs Quantum ESPRESSO on a tiny cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import h5py
import pytest

from amorphxas.dataset import load_spectra, store, transaction, validate
from amorphxas.spectra.campaign import SiteTask, run_campaign
from amorphxas.spectra.cluster import load_cluster_config, make_cluster
from tests.conftest import needs_qe
from tests.qe_stub import read_journal, write_stub_engine
from tests.slurm_local import LocalSlurm, slurm_available
from tests.test_campaign import TINY, _tiny_dataset

pytestmark = pytest.mark.cluster
ONE_RANK = replace(TINY, n_procs=1)  # the cluster files below: ranks_per_site = 1
STUB_CONSTANT = 1840.0  # eV: puts the stand-in's Lorentzian (raw 17 eV) inside the common grid


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = slurm_available()
    if reason:
        pytest.skip(reason)
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)  # sbatch/scancel of dask-jobqueue and the tests
    try:
        yield cluster
    finally:
        records = cluster.sacct()
        (cluster.root / "sacct.txt").write_text(records)
        print(f"\nsacct --completion ({cluster.root / 'sacct.txt'}):\n{records}")
        if os.environ.get("AMORPHXAS_SACCT_LOG"):  # the job records outlive the torn-down SLURM
            Path(os.environ["AMORPHXAS_SACCT_LOG"]).write_text(cluster.sacct(parsable=True))
        cluster.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


def _stub_dataset(tmp_path, si8, quartz9):
    path = _tiny_dataset(tmp_path / "data" / "d.h5", si8, quartz9)
    with transaction(path) as h5:
        h5["spectra"].attrs["alignment_constant_eV"] = STUB_CONSTANT
    return path


def _config(tmp_path, pw, xspectra, **cluster) -> object:
    values = {"walltime": "00:05:00", "cores": 1, "memory": "400MB", "jobs": 2,
              "ranks_per_site": 1, "scratch": str(tmp_path / "scratch"),
              "log_directory": str(tmp_path / "logs"), **cluster}
    lines = ["[cluster]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    lines += ["[qe]", f"pw = {json.dumps(str(pw))}", f"xspectra = {json.dumps(str(xspectra))}",
              'launcher = "srun --mpi=pmix --ntasks={ranks} --cpus-per-task=1"']
    path = tmp_path / "cluster.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _keys(path) -> list[str]:
    spectra = load_spectra(path)
    return sorted(f"{c}:{i}" for c, i in zip(spectra.cell_id, spectra.atom_index))


def test_cli_campaign_through_slurm_lands_each_site_once(slurm, si8, quartz9, tmp_path):
    """`amorphxas compute --cluster slurm`: two SLURM jobs, each one Dask worker; every DFT
    run of the stand-in engine is an srun step inside one of them; each site lands once."""
    stub = write_stub_engine(tmp_path / "bin", {"pw.x": 1.0, "xspectra.x": 0.2})
    config = _config(tmp_path, stub["pw.x"], stub["xspectra.x"])
    path = _stub_dataset(tmp_path, si8, quartz9)
    (tmp_path / "sites.json").write_text(json.dumps([{"cell_id": "si8", "atom_index": 0},
                                                     {"cell_id": "qz9", "atom_index": 0}]))
    cmd = [sys.executable, "-m", "amorphxas.cli", "compute", str(path), "--sites",
           str(tmp_path / "sites.json"), "--preset", "fast", "--no-references", "--no-bader",
           "--cluster", "slurm", "--cluster-config", str(config)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "slurm: 2 job(s) x 1 cores" in run.stdout and "done 2, failed 0" in run.stdout
    validate(path)
    assert _keys(path) == ["qz9:0", "si8:0"]
    events = read_journal(stub["journal"])
    jobs = {e["job"].split(".")[0] for e in events}
    assert "-" not in jobs and all(e["job"].split(".")[1] != "-" for e in events)  # srun steps
    # 1 ground state + 1 core hole + 3 polarisations per site, each started and finished once
    assert sum(e["event"] == "end" for e in events) == 10


def test_scancel_mid_site_retries_on_another_worker(slurm, si8, quartz9, tmp_path):
    """A worker's job is scancelled while its site's core-hole SCF runs: the site is rerun on
    the other worker; both sites land once, nothing is recorded as failed."""
    stub = write_stub_engine(tmp_path / "bin", {"pw.x:gs": 0.5, "pw.x:ch": 10.0,
                                                "xspectra.x": 0.2})
    config = load_cluster_config(_config(tmp_path, stub["pw.x"], stub["xspectra.x"]), "slurm")
    path = _stub_dataset(tmp_path, si8, quartz9)
    cancelled: dict = {}

    def cancel_first_core_hole_job():
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and not cancelled:
            for event in read_journal(stub["journal"]):
                if event["program"] == "pw.x" and event["prefix"] == "ch":
                    time.sleep(2.0)  # mid-SCF
                    cancelled.update(event)
                    slurm.run("scancel", event["job"].split(".")[0])
                    return
            time.sleep(0.2)

    watcher = threading.Thread(target=cancel_first_core_hole_job, daemon=True)
    cluster = make_cluster(config)
    try:
        watcher.start()
        stats = run_campaign(path, [SiteTask("si8", 0), SiteTask("qz9", 0)], ONE_RANK,
                             config.scratch, config.workers, cluster=cluster, progress=False,
                             executables=config.executables())
    finally:
        cluster.close()
    watcher.join(5)
    assert cancelled, "no core-hole SCF started"
    assert (stats["done"], stats["failed"]) == (2, 0)
    assert _keys(path) == ["qz9:0", "si8:0"] and store.failure_attempts(path) == {}
    job = cancelled["job"].split(".")[0]
    site_runs = [e for e in read_journal(stub["journal"])
                 if e["cwd"] == cancelled["cwd"] and e["program"] == "pw.x"]
    assert [e["event"] for e in site_runs] == ["start", "start", "end"]  # killed, then rerun
    assert site_runs[1]["job"].split(".")[0] != job  # on the other worker's job
    state = slurm.run("scontrol", "show", "job", job).stdout
    assert "JobState=CANCELLED" in state


def test_job_past_its_walltime_is_recorded_as_failed_with_its_log(slurm, si8, quartz9, tmp_path):
    """A site that outlives its job's 4-minute walltime (long enough for a worker to start on a
    busy machine): SLURM ends the job, the campaign
    records the site as failed, naming the job state and its log; no spectrum is written."""
    stub = write_stub_engine(tmp_path / "bin", {"pw.x:gs": 0.5, "pw.x:ch": 1800.0})
    config = load_cluster_config(_config(tmp_path, stub["pw.x"], stub["xspectra.x"],
                                         walltime="00:04:00", jobs=1, allowed_failures=0), "slurm")
    path = _stub_dataset(tmp_path, si8, quartz9)
    cluster = make_cluster(config)
    start = time.monotonic()
    try:
        stats = run_campaign(path, [SiteTask("si8", 0)], ONE_RANK, config.scratch, config.workers,
                             max_attempts=1, cluster=cluster, progress=False,
                             executables=config.executables())
    finally:
        cluster.close()
    assert (stats["done"], stats["failed"]) == (0, 1)
    assert 235 < time.monotonic() - start < 1200
    validate(path)
    assert _keys(path) == [] and store.failure_attempts(path) == {"si8:0": 1}
    with h5py.File(path) as h5:
        failure = dict(h5["failures/si8:0"].attrs)
    assert "TIMEOUT" in failure["error"], failure
    job_log = failure["log"].split("; ")[0]
    assert job_log.endswith(".err") and "DUE TO TIME LIMIT" in open(job_log).read()
    assert failure["log"].split("; ")[-1] == str(config.scratch) + "/si8/site_0"


@needs_qe
def test_real_qe_sites_through_slurm(slurm, si8, quartz9, tmp_path):
    """Two sites of the 8-atom Si cell, real pw.x/xspectra.x (the tiny test protocol), each in
    its own SLURM job via srun; the shared ground state is computed once."""
    # a generous walltime: on a loaded machine a niced tiny-cell site took over 5 minutes
    config = load_cluster_config(_config(tmp_path, "pw.x", "xspectra.x", walltime="01:00:00"),
                                 "slurm")
    path = _tiny_dataset(tmp_path / "data" / "d.h5", si8, quartz9)
    cluster = make_cluster(config)
    try:
        stats = run_campaign(path, [SiteTask("si8", 0), SiteTask("si8", 1)], ONE_RANK,
                             config.scratch, config.workers, cluster=cluster, progress=False,
                             executables=config.executables())
    finally:
        cluster.close()
    assert (stats["done"], stats["failed"]) == (2, 0)
    assert _keys(path) == ["si8:0", "si8:1"]
    spectra = load_spectra(path)
    assert spectra.intensity.max() > 0
    with h5py.File(path) as h5:
        seconds = [json.loads(h5[f"spectra/raw/si8:{i}"].attrs["seconds"]) for i in (0, 1)]
    assert all(s["core_hole_scf"] > 0 and s["xanes_0"] > 0 for s in seconds)
    assert seconds[0]["ground_state"] == seconds[1]["ground_state"]  # one cached ground state


def test_sacct_records_the_jobs_the_tests_ran(slurm):
    """Runs last: the parsable job records the fixture writes to $AMORPHXAS_SACCT_LOG at
    teardown name the worker jobs of the tests above, with their states."""
    lines = slurm.sacct(parsable=True).splitlines()
    assert lines[0] == "JobID|JobName|State|Elapsed|ExitCode|NodeList"
    states = {line.split("|")[2] for line in lines[1:]}
    assert len(lines) > 1 and states & {"COMPLETED", "CANCELLED", "TIMEOUT"}, lines
