"""A single-node SLURM on localhost for the ``cluster`` tests (test tooling, not package code).

Needs Debian's ``slurmctld``, ``slurmd``, ``slurm-client`` and ``munge`` (``scripts/install_slurm.sh``)
and root (slurmd starts jobs as their user). Everything lives in one temporary directory: a
fresh munge key and socket, a ``slurm.conf`` for this host's CPUs, state, spool and logs; the
daemons run in the foreground as children of the test process and are stopped (by their pid)
at teardown. The system's own munge/SLURM configuration is never read or touched.

The configuration is light on a shared machine: no accounting polling
(``jobacct_gather/none``), job completion records in a text file (``sacct --completion``
reads them), process tracking by process tree (no cgroups), and ``KillWait=5`` so a job past
its walltime is gone seconds after the limit.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "scancel", "squeue", "sacct")


def slurm_available() -> str | None:
    """None if a local SLURM can be started here, else the reason why not."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (run scripts/install_slurm.sh)"
    if os.geteuid() != 0:
        return "a local slurmd needs root"
    return None


def _ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; a usual default)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _free_port() -> int:
    """A free TCP port outside the ephemeral range: an OS-chosen port (bind to 0) is in it, and
    on a busy machine an outgoing connection can take it before slurmctld binds it."""
    low, high = _ephemeral_ports()
    candidates = [p for p in range(20000, 30000) if not low <= p <= high] or range(1024, 65536)
    for port in random.sample(list(candidates), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError("local SLURM: no free TCP port found")


class LocalSlurm:
    """slurmctld + slurmd + munged for this host, configured in ``root`` (a fresh directory)."""

    def __init__(self, root: Path, cpus: int | None = None, memory_mb: int = 2000):
        self.root = Path(root)
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count() or 1
        self.memory_mb = memory_mb
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.jobcomp = self.root / "jobcomp.txt"
        self.processes: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}

    def write_config(self) -> None:
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            (self.root / sub).chmod(0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        r = self.root
        ctld_port = _free_port()
        slurmd_port = _free_port()
        while slurmd_port == ctld_port:
            slurmd_port = _free_port()
        self.conf.write_text(f"""ClusterName=amorphxas-test
SlurmctldHost={self.host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=3600
InactiveLimit=0
SlurmdParameters=config_overrides
NodeName={self.host} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName=test Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.root / "log" / f"{name}.stderr", "w")
        self.processes.append(subprocess.Popen([name, *args], stdout=log, stderr=subprocess.STDOUT,
                                               env={**os.environ, **self.env}))

    def start(self, timeout: float = 60.0) -> None:
        """Start munged, slurmctld and slurmd; return once the node takes jobs."""
        self.write_config()
        self.env = {"SLURM_CONF": str(self.conf)}
        m = self.root / "munge"
        self._spawn("munged", "--foreground", "--force", f"--key-file={m}/munge.key",
                    f"--socket={self.munge_socket}", f"--pid-file={m}/munged.pid",
                    f"--log-file={m}/munged.log", f"--seed-file={m}/munged.seed")
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged socket")
        self._spawn("slurmctld", "-D", "-c", "-f", str(self.conf))
        self._spawn("slurmd", "-D", "-f", str(self.conf))
        self._wait(self._node_ready, timeout, "slurmd to register an idle node")

    def _node_ready(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip()
        return out in ("idle", "mixed", "allocated")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                break
            if ready():
                return
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                         for p in sorted((self.root / "log").glob("*")) if p.is_file())
        self.stop()
        raise RuntimeError(f"local SLURM: timed out waiting for {what}\n{logs}")

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        return subprocess.run(cmd, capture_output=True, text=True, check=check,
                              env={**os.environ, **self.env})

    def sacct(self, parsable: bool = False) -> str:
        """The finished jobs' records (``sacct --completion``: no slurmdbd here); ``parsable``:
        ``|``-separated ``JobID|JobName|State|Elapsed|ExitCode|NodeList`` lines."""
        if parsable:
            return self.run("sacct", "--completion", "-a", "--parsable2",
                            "--format=JobID,JobName,State,Elapsed,ExitCode,NodeList",
                            check=False).stdout
        return self.run("sacct", "--completion", "-a", "-o",
                        "JobID,JobName%24,Partition,State,ExitCode,Elapsed,Timelimit,NodeList",
                        check=False).stdout

    def stop(self) -> None:
        """Cancel every job, then stop the daemons this object started (reverse order)."""
        if self.processes and self.processes[-1].poll() is None:
            self.run("scancel", "--full", "--user", "root", check=False)
            time.sleep(1.0)
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes = []
