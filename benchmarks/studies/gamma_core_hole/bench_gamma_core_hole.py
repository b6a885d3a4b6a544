"""Core-hole SCF with real (gamma_only) wavefunctions against the dataset's k-point-code sites.

Recomputes sites already in a dataset with the dataset's own settings plus
``core_hole_gamma_only=True`` (the save directory converted for xspectra by
``amorphxas.spectra.qe_save``), reusing the cells' cached ground states, and prints per site:
core-hole SCF wall seconds and iterations (dataset vs gamma_only), xspectra seconds, and the
difference of the spectra evaluated as the dataset does (Lorentzian HWHM 0.8 eV, common grid, the
dataset's alignment constant): max |diff| / max and the edge shift.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/studies/gamma_core_hole/bench_gamma_core_hole.py \
        src/amorphxas/data/siox_sik_v4.h5 siox_x2.00_s1:46 siox_x0.25_s2:88 \
        --preset production-v4 --scratch scratch --work runs/bench/gamma_ch \
        --out docs/figures/spectra_gamma_core_hole.json
"""

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.spectrum import COMMON_GRID, STUDY2, broaden, edge_energy
from amorphxas.dataset.loader import load_structure
from amorphxas.spectra.campaign import settings_for_dataset
from amorphxas.spectra.site import compute_site, ground_state_dir


def _curve(energy: np.ndarray, sigma: np.ndarray, constant: float, gamma: float) -> np.ndarray:
    return broaden(energy + constant, sigma.mean(axis=0), COMMON_GRID, STUDY2, gamma)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("sites", nargs="+", help="cell:index keys of sites in the dataset")
    parser.add_argument("--preset", default="production-v4")
    parser.add_argument("--scratch", type=Path, default=Path("scratch"),
                        help="the campaign's scratch (cached ground states are reused)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench/gamma_ch"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = settings_for_dataset(args.dataset, args.preset)
    gamma_settings = replace(settings, core_hole_gamma_only=True)
    with h5py.File(args.dataset, "r") as h5:
        constant = float(h5["spectra"].attrs["alignment_constant_eV"])
    rows = []
    for key in args.sites:
        cell, index = key.rsplit(":", 1)
        with h5py.File(args.dataset, "r") as h5:
            raw = h5["spectra/raw"][key]
            energy, sigma = raw["energy"][()], raw["sigma"][()]
            seconds = json.loads(raw.attrs["seconds"])
            iterations = int(raw.attrs["core_hole_iterations"])
        atoms = load_structure(args.dataset, cell)
        workdir = args.work / cell
        cached = ground_state_dir(args.scratch / cell, settings) / "result.json"
        if cached.is_file():
            target = ground_state_dir(workdir, settings)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, target / "result.json")
        result = compute_site(atoms, int(index), workdir, gamma_settings)
        old = _curve(energy, sigma, constant, settings.xs_gamma)
        new = _curve(result.energy, result.sigma, constant, settings.xs_gamma)
        row = {
            "site": key,
            "max_abs_diff_rel": float(np.abs(new - old).max() / old.max()),
            "edge_shift_eV": float(edge_energy(COMMON_GRID, new) - edge_energy(COMMON_GRID, old)),
            "core_hole_scf_s": [seconds["core_hole_scf"], result.seconds["core_hole_scf"]],
            "iterations": [iterations, result.core_hole_iterations],
            "xspectra_s": [sum(v for k, v in seconds.items() if k.startswith("xanes_")),
                           sum(v for k, v in result.seconds.items() if k.startswith("xanes_"))],
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"dataset": str(args.dataset), "preset": args.preset,
                                        "sites": rows}, indent=1))


if __name__ == "__main__":
    main()
