"""Cluster files (TOML) for `amorphxas compute --cluster`: what they submit, and one-line errors
naming the file and the field. No scheduler needed (nothing is submitted)."""

import pytest
from typer.testing import CliRunner

from amorphxas.cli import app
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import COMMON_GRID
from amorphxas.dataset import create
from amorphxas.spectra.cluster import job_script, load_cluster_config

SLURM = """[cluster]
queue = "compute"
account = "proj42"
walltime = "04:00:00"
cores = 8
memory = "16GB"
jobs = 3
ranks_per_site = 2
prologue = ["module load quantum-espresso/7.2"]
job_directives = ["--qos=normal"]
[qe]
launcher = "srun --mpi=pmix --ntasks={ranks} --cpus-per-task=1"
"""


def test_slurm_file_gives_the_jobs_it_describes(tmp_path):
    path = tmp_path / "slurm.toml"
    path.write_text(SLURM)
    config = load_cluster_config(path, "slurm")
    assert (config.sites_per_job, config.workers, config.ranks_per_site) == (4, 12, 2)
    assert config.executables().launcher.startswith("srun --mpi=pmix")
    script = job_script(config)
    for line in ("#SBATCH -p compute", "#SBATCH -A proj42", "#SBATCH -t 04:00:00",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=15G", "#SBATCH --qos=normal",
                 "module load quantum-espresso/7.2", "--nworkers 4", "--nthreads 1"):
        assert line in script, line


def test_pbs_file_books_all_cores_of_the_sites(tmp_path):
    path = tmp_path / "pbs.toml"
    path.write_text(SLURM.replace('job_directives = ["--qos=normal"]\n', ""))
    script = job_script(load_cluster_config(path, "pbs"))
    assert "#PBS -q compute" in script and "#PBS -l select=1:ncpus=8:mem=16GB" in script
    assert "#PBS -l walltime=04:00:00" in script and "--nworkers 4" in script


@pytest.mark.parametrize("edit, message", [
    (("walltime = \"04:00:00\"\n", ""), "missing field cluster.walltime"),
    (("cores = 8", "cores = \"8\""), "cluster.cores must be a positive integer, not '8'"),
    (("cores = 8", "cores = 0"), "cluster.cores must be a positive integer"),
    (("queue =", "partition ="), "unknown field cluster.partition"),
    (("memory = \"16GB\"", "memory = 16"), "cluster.memory must be a size like \"16GB\""),
    (("walltime = \"04:00:00\"", "walltime = \"4h\""), "cluster.walltime must be a time"),
    (("cores = 8", "cores = 7"), "cluster.cores (7) must be a multiple of cluster.ranks_per_site (2)"),
    (("[qe]", "[quantum]"), "unknown section [quantum]"),
    (("launcher = \"srun --mpi=pmix --ntasks={ranks}", "launcher = \"srun --ntasks=2"),
     "qe.launcher has no {ranks}"),
    (("[cluster]", "[cluster]\nkind = \"pbs\""), "cluster.kind is 'pbs' but --cluster is 'slurm'"),
    (("queue = \"compute\"", "queue = compute"), "not valid TOML"),
])
def test_bad_field_is_one_error_naming_file_and_field(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(SLURM.replace(*edit))
    with pytest.raises(AmorphxasError) as error:
        load_cluster_config(path, "slurm")
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_cli_reports_a_bad_cluster_file_in_one_line(tmp_path):
    dataset = create(tmp_path / "d.h5", COMMON_GRID)
    path = tmp_path / "bad.toml"
    path.write_text(SLURM.replace("jobs = 3", "jobs = -1"))
    run = CliRunner().invoke(app, ["compute", str(dataset), "--cluster", "slurm",
                                   "--cluster-config", str(path)])
    assert run.exit_code == 1 and run.exception is None or isinstance(run.exception, SystemExit)
    assert run.stderr.strip() == f"error: {path}: cluster.jobs must be a positive integer, not -1"
    missing = CliRunner().invoke(app, ["compute", str(dataset), "--cluster", "slurm"])
    assert missing.exit_code == 1
    assert "--cluster-config: missing field cluster.walltime (needed for slurm)" in missing.stderr


def test_job_state_waits_for_the_end_state_behind_completing(monkeypatch):
    """A worker dies at its job's time limit while SLURM still shows the job COMPLETING (its
    processes get KillWait seconds): the recorded state is the TIMEOUT that follows."""
    import subprocess

    from amorphxas.spectra import cluster as cluster_module

    answers = iter(["JobId=5 JobState=COMPLETING Reason=TimeLimit"] * 2
                   + ["JobId=5 JobState=TIMEOUT Reason=TimeLimit"])
    calls = []

    def scontrol(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=next(answers), stderr="")

    class SLURMCluster:  # a hand-made stand-in: only its class name is read
        pass

    monkeypatch.setattr(cluster_module.subprocess, "run", scontrol)
    monkeypatch.setattr(cluster_module.time, "sleep", lambda seconds: None)
    assert cluster_module._job_state(SLURMCluster(), "5") == "TIMEOUT"
    assert [c[:2] for c in calls] == [["scontrol", "show"]] * 3
    answers = iter(["JobId=6 JobState=COMPLETING"] * 1000)
    assert cluster_module._job_state(SLURMCluster(), "6", wait_seconds=0.0) == "COMPLETING"
