"""Quantum ESPRESSO inputs, runs and output parsing (pw.x, xspectra.x).

ASE's espresso writer has no notion of one atom carrying its own species (the absorber with
the core-hole pseudopotential) next to the same element elsewhere, nor of xspectra, so the
inputs are written here; they are short namelist files.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, chemical_symbols

from amorphxas.core.dft_settings import (  # noqa: F401  (the protocol, defined there)
    FCC4_SHIFTS,
    GROUND_STATE_INDEPENDENT,
    OCCUPIED_CUTS,
    PRESETS,
    DFTSettings,
    completed_settings,
    get_settings,
)
from amorphxas.core.errors import EngineError

RY_TO_EV = 13.605693122994


@dataclass
class PWResult:
    """What the alignment needs from one pw.x SCF (energies in eV)."""

    total_energy: float
    fermi_energy: float | None
    homo: float | None
    lumo: float | None
    smearing_ts: float
    n_iterations: int
    seconds: float
    log: Path

    @property
    def energy_zero(self) -> float:
        """The zero xspectra should use: the Fermi level with smearing, else the HOMO."""
        if self.fermi_energy is not None:
            return self.fermi_energy
        if self.homo is not None:
            return self.homo
        raise EngineError(f"{self.log}: neither Fermi energy nor HOMO found")


@dataclass
class Executables:
    mpirun: str = field(default_factory=lambda: os.environ.get("AMORPHXAS_MPIRUN", "/usr/bin/mpirun"))
    pw: str = "pw.x"
    xspectra: str = "xspectra.x"
    pp: str = "pp.x"
    # a batch system's launcher instead of mpirun, "{ranks}" = MPI ranks (e.g. "srun --ntasks=
    # {ranks}"); used for every run, one rank too (amorphxas.spectra.cluster)
    launcher: str = ""

    def check(self) -> None:
        for name in (self.pw, self.xspectra):
            if shutil.which(name) is None:
                raise EngineError(f"{name} not found on PATH: install Quantum ESPRESSO "
                                  "(apt-get install quantum-espresso)")
        if self.launcher:
            first = self.launcher.split()[0]
            if shutil.which(first) is None:
                raise EngineError(f"{first} (the MPI launcher) not found on PATH")
        elif shutil.which(self.mpirun) is None:
            raise EngineError(f"{self.mpirun} not found: install openmpi-bin or set AMORPHXAS_MPIRUN")


def _species_block(atoms: Atoms, absorber: int | None, pseudos) -> tuple[str, list[str]]:
    """ATOMIC_SPECIES lines and the species label of every atom (absorber -> 'Sih')."""
    labels = list(atoms.get_chemical_symbols())
    if absorber is not None:
        labels[absorber] = "Sih"
    lines = []
    for label in dict.fromkeys(labels):
        element = "Si" if label == "Sih" else label
        mass = atomic_masses[chemical_symbols.index(element)]
        upf = pseudos.core_hole if label == "Sih" else pseudos.ground_state[element]
        lines.append(f"  {label} {mass:.4f} {upf}")
    return "\n".join(lines), labels


def write_pw_input(path: Path, atoms: Atoms, settings: DFTSettings, pseudos, prefix: str,
                   outdir: Path, absorber: int | None = None, startingpot_file: bool = False,
                   gamma_only: bool = False) -> None:
    """pw.x SCF input; ``absorber`` (atom index) gets the core-hole species and the cell a charge.

    ``gamma_only``: real wavefunctions at k = Gamma (half the wavefunction coefficients; the
    density-side work is unchanged: no large saving measured for the PAW Bader SCF); only for
    runs nothing reads wavefunctions of (xspectra cannot).
    """
    if gamma_only and tuple(settings.scf_kpoints) != (1, 1, 1):
        raise EngineError(f"gamma_only needs scf_kpoints (1, 1, 1), not {settings.scf_kpoints}")
    species, labels = _species_block(atoms, absorber, pseudos)
    charge = settings.core_hole_charge if absorber is not None else 0.0
    n_types = len(dict.fromkeys(labels))
    cell = "\n".join("  " + " ".join(f"{v:.10f}" for v in row) for row in atoms.cell[:])
    positions = "\n".join(f"  {label} " + " ".join(f"{v:.10f}" for v in pos)
                          for label, pos in zip(labels, atoms.positions))
    k = settings.scf_kpoints
    text = f"""&control
  calculation = 'scf'
  prefix = '{prefix}'
  outdir = '{outdir}'
  pseudo_dir = '{pseudos.directory}'
  tprnfor = .false.
  disk_io = 'low'
  max_seconds = {settings.max_seconds:.0f}
/
&system
  ibrav = 0
  nat = {len(atoms)}
  ntyp = {n_types}
  ecutwfc = {settings.ecutwfc}
  ecutrho = {settings.ecutrho}
  tot_charge = {charge}
  occupations = 'smearing'
  smearing = '{settings.smearing}'
  degauss = {settings.degauss}
  nbnd = {_n_bands(atoms, settings.empty_bands)}
/
&electrons
  conv_thr = {settings.conv_thr}
  mixing_beta = {settings.mixing_beta}
  mixing_mode = '{settings.mixing_mode}'
  mixing_ndim = {settings.mixing_ndim}
  electron_maxstep = 150
  {"startingpot = 'file'" if startingpot_file else ""}
/
ATOMIC_SPECIES
{species}
CELL_PARAMETERS angstrom
{cell}
ATOMIC_POSITIONS angstrom
{positions}
{"K_POINTS gamma" if gamma_only else f"K_POINTS automatic{chr(10)}  {k[0]} {k[1]} {k[2]} 0 0 0"}
"""
    Path(path).write_text(text)


def _n_bands(atoms: Atoms, empty_fraction: float) -> int:
    """Occupied bands plus ``empty_fraction`` of them empty, at least 8."""
    symbols = atoms.get_chemical_symbols()
    electrons = 4 * symbols.count("Si") + 6 * symbols.count("O")
    occupied = int(np.ceil(electrons / 2))
    return occupied + max(8, int(empty_fraction * occupied))


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPED = threading.Event()  # set by terminate_running: no new runs until allow_new_runs


def run_mpi(executables: Executables, program: str, input_file: Path, log: Path, cwd: Path,
            n_procs: int) -> float:
    """Run ``program < input_file > log`` under MPI; returns wall seconds. Errors name the log."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [executables.mpirun, "--allow-run-as-root", "-np", str(n_procs), program,
           "-inp", str(input_file)] if n_procs > 1 else [program, "-inp", str(input_file)]
    if executables.launcher:
        cmd = [*shlex.split(executables.launcher.replace("{ranks}", str(int(n_procs)))),
               program, "-inp", str(input_file)]
    start = time.perf_counter()
    if _STOPPED.is_set():
        raise EngineError(f"{Path(program).name} not started: the campaign is stopping (log: {log})")
    with open(log, "w") as out:
        try:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                       preexec_fn=_die_with_parent)
        except FileNotFoundError:
            raise EngineError(f"{cmd[0]} not found: install Quantum ESPRESSO and OpenMPI") from None
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        if _STOPPED.is_set():  # stopped while this one was being started
            process.terminate()
        try:
            returncode = process.wait()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
    seconds = time.perf_counter() - start
    text = log.read_text(errors="replace")
    qe_error = _qe_error(text)
    if returncode != 0 or qe_error:
        reason = qe_error or f"exit code {returncode}"
        raise EngineError(f"{Path(program).name} failed: {reason} (log: {log})")
    return seconds


def terminate_running() -> int:
    """SIGTERM every DFT run this process started that is still running, and refuse new ones
    until :func:`allow_new_runs` (a campaign being stopped does not wait for its jobs, nor
    start the ones queued behind a lock); returns how many were signalled."""
    _STOPPED.set()
    with _RUNNING_LOCK:
        running = [p for p in _RUNNING if p.poll() is None]
    for process in running:
        process.terminate()
    return len(running)


def allow_new_runs() -> None:
    """Undo :func:`terminate_running` (a new campaign in the same process)."""
    _STOPPED.clear()


def _die_with_parent() -> None:
    """Linux: the MPI launcher gets SIGTERM if the campaign process dies (no orphan DFT runs)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _qe_error(text: str) -> str | None:
    match = re.search(r"%{20,}\s*\n\s*Error in routine\s+(\S+)\s*\((-?\d+)\):\s*\n\s*(.+?)\n", text)
    if match:
        return f"{match.group(1)}: {match.group(3).strip()}"
    if "convergence NOT achieved" in text:
        return "SCF convergence NOT achieved"
    return None


def cpu_seconds(log: Path, clock: str) -> float:
    """CPU seconds of QE timer ``clock`` (e.g. "PWSCF", "xanes") from the clock report at the
    end of a log ("PWSCF : 3m18.48s CPU 12m53.14s WALL"; MPI rank 0's, i.e. per rank), 0.0 if
    the log has none. Unlike wall seconds, independent of other jobs sharing the cores."""
    text = Path(log).read_text(errors="replace")
    # QE prints "12.34s", " 3m18.48s" or " 1h 2m" (no seconds once there are hours)
    match = re.search(rf"^\s*{re.escape(clock)}\s+:\s+(?:(\d+)h\s*(\d+)m|(?:(\d+)m\s*)?"
                      rf"([\d.]+)s)\s*CPU", text, re.M)
    if match is None:
        return 0.0
    hours, minutes_h, minutes, secs = match.groups()
    if hours is not None:
        return float(hours) * 3600 + float(minutes_h) * 60
    return float(minutes or 0) * 60 + float(secs)


def parse_pw_output(log: Path, seconds: float = 0.0) -> PWResult:
    """Total energy, Fermi level / HOMO / LUMO and -TS (all eV) from a pw.x log."""
    text = Path(log).read_text(errors="replace")
    totals = re.findall(r"^!\s+total energy\s+=\s+(-?\d+\.\d+)\s+Ry", text, re.M)
    if not totals:
        raise EngineError(f"{log}: no converged total energy")
    fermi = re.findall(r"the Fermi energy is\s+(-?\d+\.\d+)\s+ev", text)
    homo_lumo = re.findall(r"highest occupied, lowest unoccupied level \(ev\):"
                           r"\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)", text)
    homo = re.findall(r"highest occupied level \(ev\):\s+(-?\d+\.\d+)", text)
    ts = re.findall(r"smearing contrib\. \(-TS\)\s+=\s+(-?\d+\.\d+)\s+Ry", text)
    iterations = re.findall(r"convergence has been achieved in\s+(\d+)\s+iterations", text)
    return PWResult(
        total_energy=float(totals[-1]) * RY_TO_EV,
        fermi_energy=float(fermi[-1]) if fermi else None,
        homo=float(homo_lumo[-1][0]) if homo_lumo else (float(homo[-1]) if homo else None),
        lumo=float(homo_lumo[-1][1]) if homo_lumo else None,
        smearing_ts=float(ts[-1]) * RY_TO_EV if ts else 0.0,
        n_iterations=int(iterations[-1]) if iterations else -1,
        seconds=seconds,
        log=Path(log),
    )


def write_xspectra_input(path: Path, settings: DFTSettings, prefix: str, outdir: Path,
                         absorber_type: int, polarisation, core_file: Path, xe0: float,
                         xanes_file: str, shift: tuple[int, int, int] | None = None) -> None:
    """xspectra.x dipole K-edge input for one polarisation; ``xe0`` (eV) is the energy zero.
    ``shift``: the single k-point s/2 (a 1x1x1 mesh shifted by s) instead of the whole mesh."""
    eps = polarisation
    mesh = f"1 1 1 {shift[0]} {shift[1]} {shift[2]}" if shift is not None else (
        "{} {} {} 0 0 0".format(*settings.xs_kpoints))
    text = f"""&input_xspectra
  calculation = 'xanes_dipole'
  prefix = '{prefix}'
  outdir = '{outdir}'
  xiabs = {absorber_type}
  xepsilon(1) = {eps[0]}, xepsilon(2) = {eps[1]}, xepsilon(3) = {eps[2]}
  xcoordcrys = .false.
  xe0 = {xe0:.6f}
  xniter = {settings.xs_niter}
  xerror = {settings.xs_error}
  xcheck_conv = {settings.xs_check_conv}
  x_save_file = '{xanes_file}.sav'
/
&plot
  xnepoint = {settings.xs_nepoint}
  xgamma = {settings.xs_gamma}
  xemin = {settings.xs_emin}
  xemax = {settings.xs_emax}
  terminator = .true.
  cut_occ_states = {".true." if settings.cut_occ_states else ".false."}
  xanes_file = '{xanes_file}'
/
&pseudos
  filecore = '{core_file}'
/
&cut_occ
  cut_desmooth = 0.1
/
{mesh}
"""
    Path(path).write_text(text)


def xspectra_input_value(input_file: Path, key: str) -> str:
    """The value of namelist variable ``key`` in an xspectra input (as written by
    :func:`write_xspectra_input`), quotes removed."""
    text = Path(input_file).read_text()
    match = re.search(rf"^\s*{key}\s*=\s*'?([^'\n]+)'?", text, re.M)
    if match is None:
        raise EngineError(f"{input_file}: no {key} in the xspectra input")
    return match.group(1).strip()


def xspectra_save_file(input_file: Path) -> Path:
    """The ``x_save_file`` (Lanczos chains) of an xspectra run, relative paths resolved against
    the input's directory, where xspectra runs."""
    save = Path(xspectra_input_value(input_file, "x_save_file"))
    return save if save.is_absolute() else Path(input_file).parent / save


def read_xanes_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(energy eV relative to xe0, sigma) from an xspectra ``xanes.dat``."""
    try:
        data = np.loadtxt(path, comments="#")
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}: cannot read xspectra output ({exc})") from None
    if data.ndim != 2 or data.shape[1] < 2 or not np.all(np.isfinite(data[:, :2])):
        raise EngineError(f"{path}: xspectra output is empty or not finite")
    return data[:, 0], data[:, 1]
