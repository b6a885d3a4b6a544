"""Convergence and cost of the xspectra step on one site of an amorphous cell.

Runs one site with the preset (ground state + core-hole SCF + xspectra at the preset's k-mesh,
three polarisations, files kept), then re-runs only xspectra on the same core-hole SCF with
variants, and compares each variant's spectrum with the preset's, after the dataset's broadening
(study 2 Lorentzian HWHM 0.8 eV) and after study 1's Gaussian (sigma 1 eV on the raw width):
max |diff| / max and edge shift (eV), plus seconds per polarisation and Lanczos steps.

Variants: ``k=2x2x2`` (k-mesh; ``k=1x1x1s`` shifted by half a step along all axes,
``k=1x1x1s110`` along the first two only: with a 1x1x1 mesh that is one chosen TRIM point,
here (1/2, 1/2, 0)), ``xerror=0.02`` (Lanczos
tolerance), ``xgamma=0.5`` (raw Lorentzian HWHM, eV), combined with ``+``
(``k=2x2x2+xerror=0.02``). ``--reference VARIANT`` compares against a variant instead of the
preset's spectrum; ``--reuse`` takes the core-hole SCF and the spectra already in the site
directory (from an earlier run with the same preset) instead of recomputing them.

    nice .venv/bin/python benchmarks/studies/xs_variants/bench_xs_kpoints.py \
        runs/cells/siox_x0.00_s1.extxyz 49 \
        --preset production --variants xerror=0.02 xerror=0.05 k=2x2x2 --pols 3 \
        --out runs/bench/xs_x0.json
"""

import argparse
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import STUDY1, STUDY2, broaden, edge_energy
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import (
    PRESETS,
    Executables,
    parse_pw_output,
    read_xanes_file,
    run_mpi,
    write_xspectra_input,
)
from amorphxas.spectra.site import SiteResult, _absorber_type, compute_site, ground_state_dir
from amorphxas.structures import read_structure

parser = argparse.ArgumentParser()
parser.add_argument("structure", type=Path)
parser.add_argument("site", type=int)
parser.add_argument("--variants", nargs="+", default=["k=2x2x2"])
parser.add_argument("--pols", type=int, default=3, help="polarisations per variant (x, y, z)")
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--workdir", type=Path, default=Path("runs/bench/work"))
parser.add_argument("--preset", default="production")
parser.add_argument("--procs", type=int, help="MPI ranks (default: the preset's)")
parser.add_argument("--reference", help="compare against this variant (default: the preset)")
parser.add_argument("--reuse", action="store_true",
                    help="reuse the core-hole SCF, spectra and variant spectra already computed")
args = parser.parse_args()


def _variant(settings, text: str):
    """(settings, k-mesh shift (3 ints, 0 or 1) or None) for one variant string ('+'-joined)."""
    shifted = None
    for part in text.split("+"):
        key, value = part.split("=")
        if key == "k":
            grid, _, shift = value.partition("s")
            mesh = tuple(int(v) for v in grid.split("x"))
            settings = replace(settings, xs_kpoints=mesh)
            if "s" in value:
                shifted = tuple(int(c) for c in (shift or "111"))
        elif key == "xerror":
            settings = replace(settings, xs_error=float(value))
        elif key == "xgamma":
            settings = replace(settings, xs_gamma=float(value))
        else:
            raise SystemExit(f"unknown variant {text!r}: use k=, xerror= or xgamma=")
    return settings, shifted


def _reused_site(site_dir: Path, settings):
    """The preset's site result rebuilt from the files an earlier run kept in ``site_dir``."""
    ch = parse_pw_output(site_dir / "ch.out")
    gs = json.loads((ground_state_dir(site_dir.parent, settings) / "result.json").read_text())
    curves = [read_xanes_file(site_dir / f"xanes_{n}.dat") for n in range(len(settings.xs_polarisations))]
    delta = ch.total_energy - gs["total_energy"]
    return SiteResult(atom_index=args.site, energy=curves[0][0] + ch.energy_zero + delta,
                      sigma=np.array([c[1] for c in curves]), xe0=ch.energy_zero,
                      delta_total_energy=delta, ground_state_energy=gs["total_energy"],
                      core_hole_energy=ch.total_energy, core_hole_iterations=ch.n_iterations,
                      seconds={"reused": 0.0})


def _wall_seconds(log: Path) -> float:
    """Wall time xspectra printed at its end (s); 0 when absent."""
    found = re.findall(r"^\s*xanes\s*:.*?([\d.]+)s WALL", log.read_text(errors="replace"), re.M)
    return float(found[-1]) if found else 0.0


def _lanczos_steps(log: Path) -> int | None:
    found = re.findall(r"CONVERGED at iter\s+(\d+)", log.read_text(errors="replace"))
    return int(found[-1]) if found else None


atoms = read_structure(args.structure)
settings = PRESETS[args.preset]
if args.procs:
    settings = replace(settings, n_procs=args.procs)
pseudos = prepare_pseudos()
workdir = args.workdir / args.structure.stem
start = time.perf_counter()
site_dir = (workdir / f"site_{args.site}").resolve()
if args.reuse and (site_dir / "out").is_dir():
    base = _reused_site(site_dir, settings)
else:
    base = compute_site(atoms, args.site, workdir, settings, pseudos, keep_files=True)
fine = np.arange(base.energy[0] + 5, base.energy[-1] - 5, 0.05)
broadenings = {"study2_lorentzian_0.8": STUDY2, "study1_gaussian_1.0": STUDY1}


def _run_variant(text: str):
    """(energy on the base scale, mean sigma over --pols, raw xs_gamma, s per pol., Lanczos steps)."""
    variant, shifted = _variant(settings, text)
    sigmas, seconds, steps = [], 0.0, []
    for n, pol in enumerate(settings.xs_polarisations[: args.pols]):
        name = "v_" + re.sub(r"[^0-9a-zA-Z.]", "_", text) + f"_{n}"
        if args.reuse and (site_dir / f"{name}.dat").is_file():
            energy, sigma = read_xanes_file(site_dir / f"{name}.dat")
            sigmas.append(sigma)
            steps.append(_lanczos_steps(site_dir / f"{name}.out"))
            seconds += _wall_seconds(site_dir / f"{name}.out")
            continue
        write_xspectra_input(site_dir / f"{name}.in", variant, "ch", site_dir / "out",
                             _absorber_type(atoms, args.site), pol, pseudos.core_wavefunction,
                             base.xe0, f"{name}.dat")
        if shifted:
            k = variant.xs_kpoints
            lines = (site_dir / f"{name}.in").read_text().rstrip().rsplit("\n", 1)[0]
            (site_dir / f"{name}.in").write_text(
                lines + f"\n{k[0]} {k[1]} {k[2]} {shifted[0]} {shifted[1]} {shifted[2]}\n")
        seconds += run_mpi(Executables(), "xspectra.x", site_dir / f"{name}.in",
                           site_dir / f"{name}.out", site_dir, settings.n_procs)
        steps.append(_lanczos_steps(site_dir / f"{name}.out"))
        energy, sigma = read_xanes_file(site_dir / f"{name}.dat")
        sigmas.append(sigma)
    return (energy + base.xe0 + base.delta_total_energy, np.mean(sigmas, axis=0), variant.xs_gamma,
            seconds / len(sigmas), steps)


if args.reference:
    ref_energy, ref_sigma, ref_gamma, *_ = _run_variant(args.reference)
else:
    ref_energy, ref_sigma, ref_gamma = base.energy, base.sigma[: args.pols].mean(axis=0), settings.xs_gamma
ref = {name: broaden(ref_energy, ref_sigma, fine, b, ref_gamma) for name, b in broadenings.items()}
report = {"structure": str(args.structure), "site": args.site, "n_atoms": len(atoms),
          "preset": args.preset, "n_procs": settings.n_procs, "base_seconds": base.seconds,
          "base_lanczos_steps": [_lanczos_steps(site_dir / f"xanes_{n}.out")
                                 for n in range(len(settings.xs_polarisations))],
          "core_hole_iterations": base.core_hole_iterations, "reference": args.reference or "preset",
          "variants": {}}
print("base", {k: round(v) for k, v in base.seconds.items()}, report["base_lanczos_steps"], flush=True)
for text in args.variants:
    energy, sigma, raw_gamma, seconds, steps = _run_variant(text)
    row = {"seconds_per_polarisation": seconds, "lanczos_steps": steps}
    for bname, b in broadenings.items():
        curve = broaden(energy, sigma, fine, b, raw_gamma)
        row[bname] = {"max_abs_diff_rel": float(np.max(abs(curve - ref[bname])) / ref[bname].max()),
                      "edge_shift_eV": edge_energy(fine, curve) - edge_energy(fine, ref[bname]),
                      "curve": curve.tolist()}
    report["variants"][text] = row
    print(text, json.dumps({k: ({kk: vv for kk, vv in v.items() if kk != "curve"}
                                if isinstance(v, dict) else v) for k, v in row.items()}), flush=True)
report["fine_energy"] = fine.tolist()
report["base_curves"] = {k: v.tolist() for k, v in ref.items()}
report["wall_seconds"] = time.perf_counter() - start
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps(report))
