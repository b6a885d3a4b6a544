"""The DFT campaign on a batch scheduler: a TOML cluster file -> a dask-jobqueue cluster.

A cluster file (``amorphxas compute DATASET --cluster slurm --cluster-config FILE``)::

    [cluster]
    queue = "compute"            # SLURM partition / PBS queue
    account = "myproject"
    walltime = "04:00:00"        # per job, HH:MM:SS
    cores = 8                    # per job (cores / ranks_per_site sites run at once per job)
    memory = "16GB"              # per job
    jobs = 4                     # jobs kept running (each is one node share)
    ranks_per_site = 2           # MPI ranks of each pw.x / xspectra.x run
    scratch = "/scratch/me/amorphxas"   # DFT work directories, on a file system every node sees
    prologue = ["module load quantum-espresso"]   # shell lines before the worker starts
    job_directives = ["--qos=normal"]             # extra #SBATCH / #PBS lines
    log_directory = "/scratch/me/amorphxas/logs"  # the jobs' stdout/stderr
    allowed_failures = 1         # times a site may lose its worker (node failure, scancel,
                                 # walltime) and be rerun on another one before it counts as failed
    [qe]
    pw = "pw.x"
    xspectra = "xspectra.x"
    launcher = "srun --exact --ntasks={ranks} --cpus-per-task=1"  # {ranks}: ranks_per_site

Each job runs ``cores / ranks_per_site`` Dask worker processes of one thread: one site each at
a time. Only the client (the ``amorphxas compute`` process, e.g. on a login node) writes the
dataset; the workers run the DFT and return the raw results.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amorphxas.core.errors import AmorphxasError
from amorphxas.spectra.qe import Executables

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

KINDS = ("slurm", "pbs", "local")
WORKER_START_SECONDS = 900  # a worker gives up if it cannot reach the scheduler for this long
FINAL_STATE_WAIT_SECONDS = 120.0  # how long a failed site's record waits for its job's end state
# SLURM job states of a job not ended yet (a worker can die while its job is in them)
TRANSIENT_STATES = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SIGNALING",
                              "STAGE_OUT", "SUSPENDED", "STOPPED", "RESIZING", "REQUEUED"})
WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")
MEMORY = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B)$", re.I)


@dataclass(frozen=True)
class QEConfig:
    """Where Quantum ESPRESSO is on the compute nodes and how its MPI runs are launched.

    ``launcher``: the command before the program, ``{ranks}`` replaced by the ranks per site
    (e.g. ``srun --exact --ntasks={ranks} --cpus-per-task=1``); empty: ``mpirun -np`` as on a
    workstation (``AMORPHXAS_MPIRUN``)."""

    pw: str = "pw.x"
    xspectra: str = "xspectra.x"
    launcher: str = ""


@dataclass(frozen=True)
class ClusterConfig:
    """One scheduler's settings (see the module docstring); times HH:MM:SS, memory e.g. "16GB"."""

    kind: str
    source: str = ""  # the file it came from (error messages)
    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = 1
    memory: str = "2GB"
    jobs: int = 1
    ranks_per_site: int = 1
    scratch: str | None = None
    prologue: tuple[str, ...] = ()
    job_directives: tuple[str, ...] = ()
    log_directory: str | None = None
    python: str | None = None
    interface: str | None = None
    allowed_failures: int = 1
    qe: QEConfig = field(default_factory=QEConfig)

    @property
    def sites_per_job(self) -> int:
        return self.cores // self.ranks_per_site

    @property
    def workers(self) -> int:
        """Sites computed at once over all jobs."""
        return self.jobs * self.sites_per_job

    def executables(self) -> Executables:
        return Executables(pw=self.qe.pw, xspectra=self.qe.xspectra, launcher=self.qe.launcher)


# field -> (type check, what it must be); every field optional (defaults above) except for a
# scheduler's walltime and memory, which a batch system needs and no default fits
_CLUSTER_TYPES = {
    "kind": (lambda v: v in KINDS, f"one of {', '.join(KINDS)}"),
    "queue": (lambda v: isinstance(v, str) and v, "a non-empty string"),
    "account": (lambda v: isinstance(v, str) and v, "a non-empty string"),
    "walltime": (lambda v: isinstance(v, str) and WALLTIME.match(v), "a time like \"04:00:00\""),
    "cores": (lambda v: _positive_int(v), "a positive integer"),
    "memory": (lambda v: isinstance(v, str) and MEMORY.match(v), "a size like \"16GB\""),
    "jobs": (lambda v: _positive_int(v), "a positive integer"),
    "ranks_per_site": (lambda v: _positive_int(v), "a positive integer"),
    "scratch": (lambda v: isinstance(v, str) and v, "a directory path"),
    "prologue": (lambda v: _string_list(v), "a list of shell lines"),
    "job_directives": (lambda v: _string_list(v), "a list of strings"),
    "log_directory": (lambda v: isinstance(v, str) and v, "a directory path"),
    "python": (lambda v: isinstance(v, str) and v, "a path to python"),
    "interface": (lambda v: isinstance(v, str) and v, "a network interface name"),
    "allowed_failures": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                         "an integer >= 0"),
}
_QE_TYPES = {
    "pw": (lambda v: isinstance(v, str) and v, "a program name or path"),
    "xspectra": (lambda v: isinstance(v, str) and v, "a program name or path"),
    "launcher": (lambda v: isinstance(v, str), "a command line, e.g. \"srun --ntasks={ranks}\""),
}
REQUIRED = {"slurm": ("walltime", "memory"), "pbs": ("walltime", "memory"), "local": ()}


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _checked(table: dict, types: dict, section: str, source: str) -> dict:
    if not isinstance(table, dict):
        raise AmorphxasError(f"{source}: [{section}] must be a table")
    for name, value in table.items():
        if name not in types:
            raise AmorphxasError(f"{source}: unknown field {section}.{name} (known: "
                                 f"{', '.join(types)})")
        check, what = types[name]
        if not check(value):
            raise AmorphxasError(f"{source}: {section}.{name} must be {what}, not {value!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


def load_cluster_config(path: Path | None, kind: str) -> ClusterConfig:
    """Read and check a cluster file; ``kind`` (slurm, pbs, local) is the ``--cluster`` choice.

    Every error is one line naming the file and the field. No file: the defaults (a local
    cluster only: a scheduler needs at least its walltime and memory)."""
    if kind not in KINDS:
        raise AmorphxasError(f"unknown cluster {kind!r}: use one of {', '.join(KINDS)}")
    source = str(path) if path is not None else "--cluster-config"
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise AmorphxasError(f"{path}: cannot read the cluster file ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AmorphxasError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"cluster", "qe"})
    if unknown:
        raise AmorphxasError(f"{source}: unknown section [{unknown[0]}] (known: [cluster], [qe])")
    cluster = _checked(data.get("cluster", {}), _CLUSTER_TYPES, "cluster", source)
    qe = _checked(data.get("qe", {}), _QE_TYPES, "qe", source)
    if cluster.setdefault("kind", kind) != kind:
        raise AmorphxasError(f"{source}: cluster.kind is {cluster['kind']!r} but --cluster is "
                             f"{kind!r}")
    for name in REQUIRED[kind]:
        if name not in cluster:
            raise AmorphxasError(f"{source}: missing field cluster.{name} (needed for {kind})")
    config = ClusterConfig(**cluster, source=source, qe=QEConfig(**qe))
    if config.cores % config.ranks_per_site:
        raise AmorphxasError(f"{source}: cluster.cores ({config.cores}) must be a multiple of "
                             f"cluster.ranks_per_site ({config.ranks_per_site})")
    if config.qe.launcher and "{ranks}" not in config.qe.launcher and config.ranks_per_site > 1:
        raise AmorphxasError(f"{source}: qe.launcher has no {{ranks}} for the "
                             f"{config.ranks_per_site} MPI ranks per site")
    return config


def dask_config(config: ClusterConfig) -> dict:
    """Dask settings for a campaign's scheduler (apply them while the cluster is built)."""
    return {"distributed.scheduler.allowed-failures": config.allowed_failures,
            "distributed.worker.profile.enabled": False}


def job_script(config: ClusterConfig) -> str:
    """The batch script each job of ``config`` would be submitted with (nothing submitted)."""
    cluster = make_cluster(config, submit=False)
    if cluster is None:
        raise AmorphxasError("a local cluster submits no batch jobs")
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def make_cluster(config: ClusterConfig, submit: bool = True):
    """The dask-jobqueue cluster of ``config`` with its jobs submitted; None for ``local``
    (the campaign then runs its own local cluster of ``config.workers`` sites at once)."""
    if config.kind == "local":
        return None
    import dask

    try:
        from dask_jobqueue import PBSCluster, SLURMCluster
    except ImportError:
        raise AmorphxasError("--cluster slurm/pbs needs dask-jobqueue: pip install "
                             "'amorphxas[jobqueue]'") from None
    n = config.sites_per_job
    common = dict(
        queue=config.queue, account=config.account, walltime=config.walltime,
        # Dask's view: one single-threaded worker process per concurrent site
        cores=n, processes=n, memory=config.memory,
        job_script_prologue=list(config.prologue), job_extra_directives=list(config.job_directives),
        log_directory=config.log_directory, python=config.python or sys.executable,
        interface=config.interface, job_name="amorphxas",
        # the scheduler runs in this process; no dashboard needed on a login node
        scheduler_options={"dashboard_address": ":0"},
        # one Python process per one-site job (no nanny: the DFT runs in subprocesses anyway;
        # several workers per job need one), and time to start on a busy node: Dask's 60 s
        # default lost workers still importing on an oversubscribed 2-core test machine
        nanny=n > 1, death_timeout=WORKER_START_SECONDS,
    )
    with dask.config.set(dask_config(config)):
        if config.kind == "slurm":
            # the batch system's view: all the cores the sites' MPI ranks use
            cluster = SLURMCluster(job_cpu=config.cores, **common)
        else:
            cluster = PBSCluster(resource_spec=f"select=1:ncpus={config.cores}:"
                                               f"mem={config.memory.replace(' ', '')}", **common)
    if submit:
        cluster.scale(jobs=config.jobs)
    return cluster


def job_of_worker(cluster, worker_name: str | None) -> str | None:
    """The batch job id behind a Dask worker of ``cluster`` (None if unknown)."""
    if cluster is None or worker_name is None:
        return None
    for name, job in getattr(cluster, "workers", {}).items():
        if str(worker_name) == str(name) or str(worker_name).startswith(f"{name}-"):
            return getattr(job, "job_id", None)
    return None


def lost_worker_failure(cluster, exc: Exception, site_dir: Path) -> tuple[str, str]:
    """(error, log) to record for a site whose worker died under it ``allowed_failures + 1``
    times (the batch job was cancelled, hit its walltime or lost its node)."""
    worker = getattr(getattr(exc, "last_worker", None), "name", None)
    job = job_of_worker(cluster, worker)
    logs = [str(site_dir)]
    state = ""
    if job is not None:
        state = _job_state(cluster, job)
        directory = getattr(cluster, "_dummy_job", None)
        directory = getattr(directory, "log_directory", None)
        if directory:
            logs = [str(p) for p in sorted(Path(directory).glob(f"*-{job}.*"))] + logs
    where = f"batch job {job}" + (f" ({state})" if state else "") if job else "its worker"
    return (f"{where} ended while computing the site (worker {worker}); "
            f"{type(exc).__name__}", "; ".join(logs))


def _job_state(cluster, job: str, wait_seconds: float = FINAL_STATE_WAIT_SECONDS) -> str:
    """The scheduler's final state of a job (TIMEOUT, CANCELLED, ...), '' if it cannot say.

    A job whose worker just died is often still ending (SLURM: COMPLETING while its processes
    get ``KillWait`` seconds, the TIMEOUT or CANCELLED behind it not shown yet): asks again every
    2 s for up to ``wait_seconds``, then gives the last state seen."""
    deadline = time.monotonic() + wait_seconds
    state = _job_state_now(cluster, job)
    while state in TRANSIENT_STATES and time.monotonic() < deadline:
        time.sleep(2.0)
        state = _job_state_now(cluster, job)
    return state


def _job_state_now(cluster, job: str) -> str:
    """What the scheduler says of a job at this moment ('' if it cannot say)."""
    name = type(cluster).__name__
    if name.startswith("SLURM"):
        # the controller knows a job for MinJobAge after its end, then only accounting does
        # (sacct; --completion: the job completion log of a SLURM without slurmdbd)
        for cmd in (["scontrol", "show", "job", job], ["sacct", "-X", "-n", "-P", "-o", "State", "-j", job],
                    ["sacct", "--completion", "-X", "-n", "-P", "-o", "State", "-j", job]):
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            match = re.search(r"JobState=(\w+)", out) if cmd[0] == "scontrol" else None
            if match:
                return match.group(1)
            if cmd[0] == "sacct" and out.split():
                return out.split()[-1]
    elif name.startswith("PBS"):
        try:
            out = subprocess.run(["qstat", "-x", "-f", job], capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""
        match = re.search(r"Exit_status = (-?\d+)", out)
        return f"exit status {match.group(1)}" if match else ""
    return ""


def describe(config: ClusterConfig) -> str:
    """One line for the log: what will be submitted."""
    return (f"{config.kind}: {config.jobs} job(s) x {config.cores} cores, {config.memory}, "
            f"walltime {config.walltime}; {config.sites_per_job} site(s) per job x "
            f"{config.ranks_per_site} MPI rank(s)" + (f", queue {config.queue}" if config.queue else ""))


__all__ = ["ClusterConfig", "QEConfig", "describe", "job_script", "load_cluster_config",
           "lost_worker_failure", "make_cluster"]
