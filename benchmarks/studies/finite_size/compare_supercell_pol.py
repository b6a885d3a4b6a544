"""Finite-size check for one polarisation while the supercell run is still going.

Compares polarisation ``--pol`` of a site's spectrum in its ~100-atom cell (raw data from a dataset
computed with ``production``) with the same polarisation from a supercell run of
``benchmarks/studies/finite_size/bench_supercell.py`` (its site directory: ``ch.out``,
``xanes_<pol>.in/.dat/.dat.sav`` and the ground state ``../ground_state_*/gs.out``). Both on the
reference-free scale E_xspectra + xe0 + (E_total(core hole) - E_total(ground state)), after the 0.8
eV Lorentzian: max |diff| / max and edge shift (eV), with xspectra's own occupied-state cut and,
when the cell's chains are given (``--cell-chains``, an xspectra save file of the same polarisation
and k-sampling), with the Fermi-Dirac cut of ``amorphxas.spectra.lanczos`` on both.

    .venv/bin/python benchmarks/studies/finite_size/compare_supercell_pol.py \
        src/amorphxas/data/siox_sik_v2.h5 \
        siox_x1.00_s1:76 runs/bench/supercell/siox_x1.00_s1_supercell/site_76 --pol 0 \
        --cell-chains runs/bench/work/siox_x1.00_s1/site_76/v_k_2x2x2_0.dat.sav
"""

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.spectrum import STUDY2, broaden, edge_energy
from amorphxas.spectra.lanczos import RY_EV, cross_section, read_save_file
from amorphxas.spectra.qe import parse_pw_output, read_xanes_file, xspectra_input_value

parser = argparse.ArgumentParser()
parser.add_argument("dataset", type=Path)
parser.add_argument("key")
parser.add_argument("supercell_site", type=Path)
parser.add_argument("--pol", type=int, default=0)
parser.add_argument("--cell-chains", type=Path)
parser.add_argument("--steps", type=int, default=250, help="chain length of the Fermi-cut curves")
parser.add_argument("--out", type=Path)
args = parser.parse_args()

with h5py.File(args.dataset, "r") as h5:
    raw = h5["spectra/raw"][args.key]
    cell_energy, cell_sigma = raw["energy"][()], raw["sigma"][args.pol]
    cell_xe0, cell_delta = float(raw.attrs["xe0"]), float(raw.attrs["delta_total_energy"])

site = args.supercell_site
ch = parse_pw_output(site / "ch.out", 0.0)
gs = parse_pw_output(next(site.parent.glob("ground_state_*/gs.out")), 0.0)
xe0 = float(xspectra_input_value(site / f"xanes_{args.pol}.in", "xe0"))
delta = ch.total_energy - gs.total_energy
rel, sigma = read_xanes_file(site / f"xanes_{args.pol}.dat")
super_energy = rel + xe0 + delta

fine = np.arange(cell_energy[0] + 5, cell_energy[-1] - 5, 0.05)


def compare(e_cell, s_cell, e_super, s_super) -> dict:
    a = broaden(e_cell, s_cell, fine, STUDY2, 0.3)
    b = broaden(e_super, s_super, fine, STUDY2, 0.3)
    return {"max_abs_diff_rel": float(np.abs(b - a).max() / a.max()),
            "edge_shift_eV": float(edge_energy(fine, b) - edge_energy(fine, a)),
            "worst_at_eV": float(fine[np.abs(b - a).argmax()])}


report = {"key": args.key, "pol": args.pol, "cell_xe0": cell_xe0, "supercell_xe0": xe0,
          "cell_delta_eV": cell_delta, "supercell_delta_eV": delta,
          "xspectra_cut": compare(cell_energy, cell_sigma, super_energy, sigma)}
if args.cell_chains:
    width = 0.01 * RY_EV
    cell_chains = read_save_file(args.cell_chains).truncated(args.steps)
    super_chains = read_save_file(site / f"xanes_{args.pol}.dat.sav").truncated(args.steps)
    cell_rel = cell_energy - cell_xe0 - cell_delta
    report["fermi_cut"] = compare(
        cell_energy, cross_section(cell_chains, cell_rel, cell_xe0, 0.3, occupied_width=width),
        super_energy, cross_section(super_chains, rel, xe0, 0.3, occupied_width=width))
print(json.dumps(report, indent=1))
if args.out:
    args.out.write_text(json.dumps(report, indent=1))
