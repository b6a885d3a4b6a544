"""Quantum ESPRESSO inputs, runs and output parsing (pw.x, xspectra.x).

ASE's espresso writer has no notion of one atom carrying its own species (the absorber with
the core-hole pseudopotential) next to the same element elsewhere, nor of xspectra, so the
inputs are written here; they are short namelist files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, chemical_symbols

from amorphxas.core.errors import EngineError

RY_TO_EV = 13.605693122994


OCCUPIED_CUTS = ("xspectra", "fermi")

# the "fcc" subgroup of the 2x2x2 mesh, {000, 011, 101, 110}/2: the Gamma point of a 4x
# (body-centred) supercell, invariant under permutations of the axes
FCC4_SHIFTS = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))


@dataclass(frozen=True)
class DFTSettings:
    """Every number that defines a spectrum (stored as provenance with each site).

    Energies in Ry for cut-offs and smearing (QE units), eV for spectral parameters. The
    defaults are the production protocol (``PRESETS["production-v4"]``, the embedded dataset's);
    a dataset's stored settings that lack a field are completed with the value the field had
    before it existed (:func:`completed_settings`), never with these defaults.
    """

    ecutwfc: float = 25.0
    ecutrho: float = 200.0
    conv_thr: float = 1e-5  # Ry, total for the cell
    mixing_beta: float = 0.3
    mixing_mode: str = "local-TF"
    mixing_ndim: int = 8
    smearing: str = "mv"  # cold smearing: F ~ E(sigma -> 0) to third order
    degauss: float = 0.01  # Ry
    # empty bands as a fraction of the occupied ones (at least 8): smearing needs a few above the
    # Fermi level; xspectra builds its own final states, so more only cost Davidson time
    empty_bands: float = 0.1
    core_hole_charge: float = 1.0  # tot_charge of the core-hole cell: full core hole (FCH)
    # measured on a 100-atom a-Si site: from the ground-state density the charged core-hole cell
    # starts far from self-consistency (46 Ry) and its first Davidson step costs 4x more;
    # from atomic densities: 15 iterations, 303 s, same energy to 4e-7 Ry (docs/spectra.md)
    restart_from_ground_state: bool = False
    # run the core-hole SCF with real wavefunctions at Gamma (~2.7x cheaper per iteration for
    # 100-atom cells) and convert its save directory for xspectra (amorphxas.spectra.qe_save);
    # same density, chains and energies as the k-point code (tests/test_engine.py)
    core_hole_gamma_only: bool = True
    scf_kpoints: tuple[int, int, int] = (1, 1, 1)
    xs_kpoints: tuple[int, int, int] = (2, 2, 2)
    # a subset of the 2x2x2 mesh: the points s/2 (crystal coordinates), s in {0, 1}^3, each run
    # by xspectra as a 1x1x1 mesh shifted by s (it reads no explicit k-point lists); None = the
    # whole ``xs_kpoints`` mesh in one run
    xs_kpoint_shifts: tuple[tuple[int, int, int], ...] | None = FCC4_SHIFTS
    xs_polarisations: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    xs_niter: int = 250
    xs_error: float = 2e-2
    xs_check_conv: int = 50
    # eV, HWHM of the raw data's Lorentzian: 0.3 eV converges the Lanczos chain in ~600 steps
    # (0.1 eV had not converged after 1000) and stays below study 2's 0.8 eV (docs/spectra.md)
    xs_gamma: float = 0.3
    xs_emin: float = -15.0  # eV relative to the Fermi level of the core-hole cell
    xs_emax: float = 55.0
    xs_nepoint: int = 1401
    cut_occ_states: bool = True
    # how occupied states leave the spectrum: "xspectra" (its sharp contour-integral cut, the
    # plotted xanes.dat) or "fermi" (the Lanczos chains re-evaluated here with the empty fraction
    # of a Fermi-Dirac function as wide as the SCF smearing; amorphxas.spectra.lanczos)
    occupied_cut: str = "fermi"
    n_procs: int = 1
    max_seconds: float = 3 * 3600.0

    def __post_init__(self) -> None:
        if self.core_hole_gamma_only and (tuple(self.scf_kpoints) != (1, 1, 1)
                                          or self.restart_from_ground_state):
            raise EngineError("core_hole_gamma_only needs scf_kpoints (1, 1, 1) and no "
                              "restart_from_ground_state")
        if self.occupied_cut not in OCCUPIED_CUTS:
            raise EngineError(f"unknown occupied_cut {self.occupied_cut!r}; choose one of "
                              f"{list(OCCUPIED_CUTS)}")
        if self.xs_kpoint_shifts is not None:
            shifts = [tuple(s) for s in self.xs_kpoint_shifts]
            if tuple(self.xs_kpoints) != (2, 2, 2) or self.occupied_cut != "fermi":
                raise EngineError("xs_kpoint_shifts selects points of the 2x2x2 mesh and needs "
                                  "xs_kpoints (2, 2, 2) and occupied_cut 'fermi'")
            if not shifts or len(set(shifts)) != len(shifts) or any(
                    len(s) != 3 or set(s) - {0, 1} for s in shifts):
                raise EngineError(f"xs_kpoint_shifts must be distinct triples of 0/1, not {shifts}")

    def xs_mesh_indices(self) -> list[int]:
        """Positions of the spectrum's k-points in xspectra's 2x2x2 mesh order (all eight
        without ``xs_kpoint_shifts``): the point s/2 is number 4 s1 + 2 s2 + s3."""
        if self.xs_kpoint_shifts is None:
            return list(range(int(np.prod(self.xs_kpoints))))
        return [4 * s1 + 2 * s2 + s3 for s1, s2, s3 in self.xs_kpoint_shifts]

    def as_dict(self) -> dict:
        return asdict(self)

    def ground_state_key(self) -> str:
        """Short hash of the settings a ground-state SCF depends on (its cache key)."""
        relevant = {k: v for k, v in self.as_dict().items()
                    if not k.startswith("xs_") and k not in GROUND_STATE_INDEPENDENT}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:10]


# fields that do not change the ground-state SCF of a cell
GROUND_STATE_INDEPENDENT = {"core_hole_charge", "restart_from_ground_state", "cut_occ_states",
                            "core_hole_gamma_only", "occupied_cut", "n_procs", "max_seconds"}


# session 1's protocol (30/240 Ry, conv_thr 1e-6 Ry, 20 % empty bands, spectrum at Gamma with
# xspectra's own occupied-state cut): the older presets are built from it
_V1 = DFTSettings(ecutwfc=30.0, ecutrho=240.0, conv_thr=1e-6, empty_bands=0.2,
                  core_hole_gamma_only=False, xs_kpoints=(1, 1, 1), xs_kpoint_shifts=None,
                  xs_niter=1000, xs_error=1e-2, occupied_cut="xspectra", n_procs=2)

PRESETS = {
    # session 6: "production-v3" with the spectrum on the four fcc points of its 2x2x2 mesh: half
    # the xspectra cost. Polarisation-averaged, against all eight points, on the 17 sites of
    # siox_sik_v3.h5: max |diff| 0.5-2.2 % of the maximum (median 1.0 %), edges within 0.03 eV;
    # Gamma alone 2.3-10.7 % (benchmarks/studies/fcc_half_mesh/kmesh_subsets_dataset.py, docs/spectra.md)
    # Since session 7 its core-hole SCF runs with real wavefunctions (core_hole_gamma_only, a
    # runtime choice): ~2.8x less CPU per SCF iteration, spectra within 0.35 % of the k-point
    # code's on two 100-atom sites (benchmarks/studies/gamma_core_hole/bench_gamma_core_hole.py,
    # docs/spectra.md)
    "production-v4": DFTSettings(),  # the defaults
    # session 4: "production" with a smooth occupied-state cut and 250 Lanczos steps. xspectra's
    # sharp cut moved the white line of an x = 1.75 site by 20-30 % of its maximum between chains
    # of 250, 300 and 350-400 steps; with the Fermi-Dirac cut (width = the SCF smearing, 0.136
    # eV) 250 steps are within 0.7 % of the full chains on four sites (docs/spectra.md)
    "production-v3": replace(_V1, ecutwfc=25.0, ecutrho=200.0, conv_thr=1e-5, empty_bands=0.1,
                             n_procs=1, xs_kpoints=(2, 2, 2), xs_error=0.02, xs_niter=250,
                             occupied_cut="fermi"),
    # the dataset protocol (session 3): "production-gamma" with the spectrum on a 2x2x2 k-mesh
    # and Lanczos tolerance 0.02. At Gamma a 100-atom cell's spectrum is off by 10-15 % of its
    # maximum (Si4+ / Si0 site); 2x2x2 with xerror 0.02 is within 0.9 % of 2x2x2 with 0.01
    # (docs/spectra.md)
    "production": replace(_V1, ecutwfc=25.0, ecutrho=200.0, conv_thr=1e-5, empty_bands=0.1,
                          n_procs=1, xs_kpoints=(2, 2, 2), xs_error=0.02),
    # session 2's protocol, spectrum at Gamma: 25/200 Ry, conv_thr 1e-5 Ry, 10 % empty bands, one
    # MPI rank per site; against "production-v1" on five sites Si0..Si4+: spectra within 2.0 % of
    # their maximum, edges within 0.04 eV, 1.7-1.9x cheaper core-hole SCFs (docs/spectra.md)
    "production-gamma": replace(_V1, ecutwfc=25.0, ecutrho=200.0, conv_thr=1e-5, empty_bands=0.1,
                                n_procs=1),
    # session 1's protocol, kept to reproduce it
    "production-v1": _V1,
    # a cheap protocol for tests on tiny cells only: never for data
    "fast": replace(_V1, ecutwfc=20.0, ecutrho=160.0, conv_thr=1e-5, xs_niter=300,
                    xs_nepoint=701, xs_check_conv=20),
}


# a screening protocol: "production-v4" with the spectrum at Gamma only (its three Gamma chains
# out of twelve); k-sampling error and cost measured in docs/spectra.md (session 8). A v4 dataset
# re-evaluates to it without DFT (`amorphxas dataset reevaluate ... --to-preset screening-gamma`)
PRESETS["screening-gamma"] = replace(PRESETS["production-v4"], xs_kpoint_shifts=((0, 0, 0),))


def completed_settings(stored: dict) -> dict:
    """``stored`` (the JSON settings a dataset or an input folder recorded) with every field it
    lacks at the value that field had before it existed: production-v1's (a field is only ever
    added with the behaviour the code had without it)."""
    return {**json.loads(json.dumps(PRESETS["production-v1"].as_dict())), **stored}


def get_settings(preset: str | DFTSettings) -> DFTSettings:
    if isinstance(preset, DFTSettings):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise EngineError(f"unknown DFT preset {preset!r}; choose one of {sorted(PRESETS)}") from None


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
