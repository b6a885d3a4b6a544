"""One Si site -> one core-hole Si K-edge spectrum on the absolute (aligned) energy scale.

Protocol (see docs/spectra.md):
1. ground-state SCF of the cell (once per cell, cached in the cell's work directory);
2. core-hole SCF: the absorber gets the 1s core-hole pseudopotential and the cell a charge of +1
   (full core hole), started from atomic densities (``restart_from_ground_state``: from the
   ground-state density instead); with ``core_hole_gamma_only`` it runs with real wavefunctions
   at Gamma and its save directory is converted for xspectra (``qe_save``);
3. ``xspectra.x`` dipole K edge for the x, y, z polarisations, averaged (isotropic powder average),
   on the k-mesh ``xs_kpoints`` or, with ``xs_kpoint_shifts``, one run per k-point of a subset of
   the 2x2x2 mesh, whose Lanczos chains are joined (every k-point weighs the same).

Energy scale, before the one global constant::

    E = E_xspectra + xe0 + (E_total(core hole) - E_total(ground state))

xspectra's energy axis is relative to ``xe0`` (set explicitly to the Fermi level of the core-hole
cell), so ``E_xspectra + xe0`` is the absolute Kohn-Sham energy of the final state; the charged
cell's eigenvalues and total energy share one arbitrary potential reference, so the sum is
reference-free and comparable between sites and cells.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from amorphxas.core.errors import EngineError
from amorphxas.core.spectrum import COMMON_GRID, DEFAULT_BROADENING, Broadening, broaden
from amorphxas.spectra.lanczos import (
    RY_EV,
    LanczosChains,
    cross_section,
    join_kpoints,
    read_save_file,
)
from amorphxas.spectra.protocol import (  # check_alignment_protocol: its home before
    alignment_constant_for,
    check_alignment_protocol,  # noqa: F401
)
from amorphxas.spectra.pseudo import PseudoSet, prepare_pseudos
from amorphxas.spectra.qe import (
    DFTSettings,
    Executables,
    PWResult,
    cpu_seconds,
    parse_pw_output,
    read_xanes_file,
    run_mpi,
    write_pw_input,
    write_xspectra_input,
)
from amorphxas.spectra.qe_save import gamma_save_to_kpoint


@dataclass
class SiteResult:
    """Raw site spectrum: energies eV on the pre-constant absolute scale, sigma per polarisation."""

    atom_index: int
    energy: np.ndarray  # (m,) eV, E_xspectra + xe0 + dE_total (no global constant)
    sigma: np.ndarray  # (n_pol, m) xspectra cross-section, Lorentzian xs_gamma only
    xe0: float  # eV
    delta_total_energy: float  # eV, E_total(core hole) - E_total(ground state)
    ground_state_energy: float  # eV
    core_hole_energy: float  # eV
    core_hole_iterations: int
    seconds: dict
    chains: list[LanczosChains] | None = None  # one per polarisation ("fermi" cut only)
    core_hole_gamma_only: bool = False  # the core-hole SCF ran with real wavefunctions

    def provenance(self) -> dict:
        out = asdict(self)
        for key in ("energy", "sigma", "chains"):
            out.pop(key)
        return out


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_site(atoms: Atoms, index: int) -> None:
    symbols = atoms.get_chemical_symbols()
    if "Si" not in symbols:
        raise EngineError("structure has no Si atom: nothing to compute a Si K edge for")
    if not 0 <= index < len(atoms):
        raise EngineError(f"site {index} out of range: the structure has {len(atoms)} atoms")
    if symbols[index] != "Si":
        raise EngineError(f"site {index} is {symbols[index]}, not Si: give the index of a Si atom")


def ground_state_dir(workdir: Path, settings: DFTSettings) -> Path:
    """Where the ground state of the cell in ``workdir`` under ``settings`` lives (one per protocol)."""
    return Path(workdir).resolve() / f"ground_state_{settings.ground_state_key()}"


def ground_state(atoms: Atoms, workdir: Path, settings: DFTSettings,
                 pseudos: PseudoSet | None = None, executables: Executables | None = None) -> PWResult:
    """Ground-state SCF of the cell, run once per work directory (file-locked, cached as JSON)."""
    pseudos = pseudos or prepare_pseudos()
    executables = executables or Executables()
    gs_dir = ground_state_dir(workdir, settings)
    cache = gs_dir / "result.json"
    with _locked(gs_dir.with_name(gs_dir.name + ".lock")):
        if cache.is_file():
            data = json.loads(cache.read_text())
            data["log"] = Path(data["log"])
            return PWResult(**data)
        executables.check()
        gs_dir.mkdir(parents=True, exist_ok=True)
        # only its total energy is used: real wavefunctions at Gamma give the same energy, cheaper
        # (unless its density is to start the core-hole SCF, which is a k-point run)
        gamma_only = (tuple(settings.scf_kpoints) == (1, 1, 1)
                      and not settings.restart_from_ground_state)
        write_pw_input(gs_dir / "gs.in", atoms, settings, pseudos, "gs", gs_dir / "out",
                       gamma_only=gamma_only)
        seconds = run_mpi(executables, executables.pw, gs_dir / "gs.in", gs_dir / "gs.out",
                          gs_dir, settings.n_procs)
        result = parse_pw_output(gs_dir / "gs.out", seconds)
        for wavefunction in (gs_dir / "out").glob("gs.wfc*"):
            wavefunction.unlink()
        data = asdict(result)
        data["log"] = str(result.log)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(cache)
        return result


def compute_site(atoms: Atoms, index: int, workdir: Path, settings: DFTSettings,
                 pseudos: PseudoSet | None = None, executables: Executables | None = None,
                 keep_files: bool = False) -> SiteResult:
    """Core-hole spectrum of Si atom ``index`` of ``atoms`` (see the module docstring)."""
    check_site(atoms, index)
    pseudos = pseudos or prepare_pseudos()
    executables = executables or Executables()
    executables.check()
    workdir = Path(workdir).resolve()
    gs = ground_state(atoms, workdir, settings, pseudos, executables)
    site_dir = workdir / f"site_{index}"
    if site_dir.exists():
        shutil.rmtree(site_dir)
    out = site_dir / "out"
    (out / "ch.save").mkdir(parents=True)
    restart = False
    gs_density = ground_state_dir(workdir, settings) / "out" / "gs.save" / "charge-density.dat"
    if settings.restart_from_ground_state and gs_density.is_file():
        shutil.copyfile(gs_density, out / "ch.save" / "charge-density.dat")
        restart = True
    write_pw_input(site_dir / "ch.in", atoms, settings, pseudos, "ch", out, absorber=index,
                   startingpot_file=restart, gamma_only=settings.core_hole_gamma_only)
    seconds = {"ground_state": gs.seconds}
    seconds["core_hole_scf"] = run_mpi(executables, executables.pw, site_dir / "ch.in",
                                       site_dir / "ch.out", site_dir, settings.n_procs)
    seconds["cpu_core_hole_scf"] = cpu_seconds(site_dir / "ch.out", "PWSCF")
    if settings.core_hole_gamma_only:
        gamma_save_to_kpoint(out / "ch.save")
    ch = parse_pw_output(site_dir / "ch.out", seconds["core_hole_scf"])
    xe0 = ch.energy_zero
    absorber_type = _absorber_type(atoms, index)
    for n, polarisation, shift, name in xspectra_runs(settings):
        seconds.setdefault(f"xanes_{n}", 0.0)
        seconds.setdefault(f"cpu_xanes_{n}", 0.0)
        write_xspectra_input(site_dir / f"{name}.in", settings, "ch", out, absorber_type,
                             polarisation, pseudos.core_wavefunction, xe0, f"{name}.dat", shift)
        seconds[f"xanes_{n}"] += run_mpi(executables, executables.xspectra,
                                         site_dir / f"{name}.in", site_dir / f"{name}.out",
                                         site_dir, settings.n_procs)
        cpu = cpu_seconds(site_dir / f"{name}.out", "xanes")
        seconds[f"cpu_xanes_{n}"] += cpu
        if shift is not None:
            # per k-point CPU keeps the cost split measurable from the dataset; its prefix
            # keeps it out of sums over "xanes"/"cpu_xanes" keys
            seconds[f"kpoint_cpu_{name}"] = cpu
    energy_rel, sigmas, chains = collect_spectrum(site_dir, settings, xe0)
    delta = ch.total_energy - gs.total_energy
    if not keep_files:
        shutil.rmtree(out, ignore_errors=True)
    return SiteResult(
        atom_index=int(index),
        energy=energy_rel + xe0 + delta,
        sigma=sigmas,
        xe0=xe0,
        delta_total_energy=delta,
        ground_state_energy=gs.total_energy,
        core_hole_energy=ch.total_energy,
        core_hole_iterations=ch.n_iterations,
        seconds=seconds,
        chains=chains or None,
        core_hole_gamma_only=settings.core_hole_gamma_only,
    )


def stored_spectrum(result: SiteResult, constant: float, broadening: Broadening,
                    settings: DFTSettings) -> np.ndarray:
    """A site's (or reference's) spectrum as a dataset stores it: ``result`` on the absolute scale
    (its raw energies + the alignment ``constant``, eV), polarisation-averaged and broadened by
    ``broadening`` on top of the raw data's Lorentzian (``settings.xs_gamma``, eV) onto
    :data:`~amorphxas.core.spectrum.COMMON_GRID`; shape (n_energy,), xspectra units."""
    return broaden(result.energy + float(constant), result.sigma.mean(axis=0), COMMON_GRID,
                   broadening, settings.xs_gamma)


def compute_site_spectrum(atoms: Atoms, index: int, dataset: Path, settings: DFTSettings,
                          workdir: Path | None = None, broadening: Broadening = DEFAULT_BROADENING
                          ) -> tuple[np.ndarray, SiteResult]:
    """One site on the absolute scale of ``dataset``'s alignment constant: (intensity on
    :data:`~amorphxas.core.spectrum.COMMON_GRID` (n_energy,), the raw :class:`SiteResult`).

    The constant and its protocol are checked before any DFT (one-line error if ``dataset`` has
    no constant or fitted it under other settings); ``workdir`` default a new temporary folder."""
    import tempfile

    constant = alignment_constant_for(dataset, settings)
    check_site(atoms, index)
    work = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="amorphxas-site-"))
    result = compute_site(atoms, index, work, settings)
    return stored_spectrum(result, constant, broadening, settings), result


def xspectra_runs(settings: DFTSettings) -> list[tuple[int, tuple, tuple | None, str]]:
    """Every xspectra run of a site: (polarisation index, polarisation, k-point shift or None,
    run name, e.g. "xanes_0_k011"), in the order they run."""
    shifts = settings.xs_kpoint_shifts or [None]
    return [(n, polarisation, shift,
             f"xanes_{n}" + ("" if shift is None else "_k" + "".join(map(str, shift))))
            for n, polarisation in enumerate(settings.xs_polarisations) for shift in shifts]


def collect_spectrum(site_dir: Path, settings: DFTSettings, xe0: float
                     ) -> tuple[np.ndarray, np.ndarray, list[LanczosChains]]:
    """Read a site's finished xspectra runs (``<name>.dat`` and, for the "fermi" cut, the
    Lanczos chains ``<name>.dat.sav``) in ``site_dir``: (energy (m,) eV relative to ``xe0``,
    sigma (n_pol, m), chains: one per polarisation, joined over k-points, or [])."""
    sigmas, chains, energy_rel = [], [], None
    runs = xspectra_runs(settings)
    for n in range(len(settings.xs_polarisations)):
        parts = []
        for _, _, _, name in (run for run in runs if run[0] == n):
            energy_n, sigma_n = read_xanes_file(site_dir / f"{name}.dat")
            if settings.occupied_cut == "fermi":
                parts.append(read_save_file(site_dir / f"{name}.dat.sav", settings.xs_check_conv))
        if parts:
            chains.append(join_kpoints(parts))
            sigma_n = occupied_fermi_cut(chains[-1], energy_n, xe0, settings)
        if energy_rel is None:
            energy_rel = energy_n
        elif energy_n.shape != energy_rel.shape or not np.allclose(energy_n, energy_rel):
            raise EngineError(f"{site_dir}: xspectra energy grids differ between polarisations")
        sigmas.append(sigma_n)
    return energy_rel, np.array(sigmas), chains


def occupied_fermi_cut(chains: LanczosChains, energy: np.ndarray, xe0: float,
                       settings: DFTSettings) -> np.ndarray:
    """Cross-section on ``energy`` (eV from ``xe0``) with the occupied states weighted out by a
    Fermi-Dirac function as wide as the SCF's smearing (``degauss``, Ry)."""
    return cross_section(chains, energy, xe0, settings.xs_gamma,
                         occupied_width=settings.degauss * RY_EV)


def _absorber_type(atoms: Atoms, index: int) -> int:
    """1-based index of the 'Sih' species in ATOMIC_SPECIES (order of first appearance)."""
    labels = list(atoms.get_chemical_symbols())
    labels[index] = "Sih"
    return list(dict.fromkeys(labels)).index("Sih") + 1
