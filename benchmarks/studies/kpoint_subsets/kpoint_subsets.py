"""Which subsets of the 2x2x2 k-mesh reproduce its spectrum? (xspectra cost is linear in k-points.)

The eight points of a Gamma-centred 2x2x2 mesh are the TRIM points (s1, s2, s3)/2, s in {0, 1}^3;
xspectra 6.7 runs them as one mesh, or one at a time as a 1x1x1 mesh shifted by s
(``benchmarks/studies/xs_variants/bench_xs_kpoints.py ... --variants k=1x1x1s110``). This script
reads the eight single-point spectra of one site (one polarisation) and compares, after the
dataset's broadening (Lorentzian HWHM 0.8 eV), their average with the 2x2x2 mesh run (a consistency
check) and every 4- and 2-point subgroup of the mesh and their cosets (each is the k-sampling of a
supercell, i.e. a legitimate reduced mesh) with the full mesh: max |diff| / max and edge shift (eV).

    .venv/bin/python benchmarks/studies/kpoint_subsets/kpoint_subsets.py \
        runs/bench/work/siox_x0.00_s1/site_49 \
        --out docs/figures/spectra_kpoint_subsets_si0.json
"""

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from amorphxas.core.spectrum import STUDY2, broaden, edge_energy
from amorphxas.spectra.qe import read_xanes_file

parser = argparse.ArgumentParser()
parser.add_argument("site_dir", type=Path)
parser.add_argument("--raw-gamma", type=float, default=0.3, help="xspectra xgamma (eV)")
parser.add_argument("--out", type=Path)
args = parser.parse_args()

POINTS = ["".join(map(str, s)) for s in itertools.product((0, 1), repeat=3)]
FILES = {"000": "xanes_0.dat", "111": "v_k_1x1x1s_0.dat",
         **{p: f"v_k_1x1x1s{p}_xerror_0.01_0.dat" for p in POINTS if p not in ("000", "111")}}

energy, _ = read_xanes_file(args.site_dir / FILES["000"])
sigma = {p: read_xanes_file(args.site_dir / f)[1] for p, f in FILES.items()}
mesh_energy, mesh_sigma = read_xanes_file(args.site_dir / "v_k_2x2x2_0.dat")
if not np.allclose(mesh_energy, energy):
    raise SystemExit("energy grids differ between the single-point and mesh runs")
fine = np.arange(energy[0] + 5, energy[-1] - 5, 0.05)


def curve(values):
    return broaden(energy, values, fine, STUDY2, args.raw_gamma)


reference = curve(mesh_sigma)
peak = reference.max()


def compare(points) -> dict:
    c = curve(np.mean([sigma[p] for p in points], axis=0))
    return {"points": list(points), "max_abs_diff_rel": float(np.abs(c - reference).max() / peak),
            "edge_shift_eV": float(edge_energy(fine, c) - edge_energy(fine, reference))}


def as_vector(p: str) -> np.ndarray:
    return np.array([int(c) for c in p])


def subgroups(order: int) -> list[tuple[str, ...]]:
    """Subgroups of (Z2)^3 of the given order (as sets of TRIM labels)."""
    out = set()
    for gens in itertools.combinations(POINTS[1:], int(np.log2(order))):
        span = {"000"}
        for r in range(1, len(gens) + 1):
            for combo in itertools.combinations(gens, r):
                span.add("".join(map(str, np.sum([as_vector(g) for g in combo], axis=0) % 2)))
        if len(span) == order:
            out.add(tuple(sorted(span)))
    return sorted(out)


def coset(group, shift: str) -> tuple[str, ...]:
    return tuple(sorted("".join(map(str, (as_vector(g) + as_vector(shift)) % 2)) for g in group))


rows = {"all 8 (average of single-point runs)": compare(POINTS)}
for order in (4, 2):
    for group in subgroups(order):
        shifted = coset(group, next(p for p in POINTS if p not in group))
        for points in (group, shifted):
            rows[" ".join(points)] = compare(points)
for p in POINTS:
    rows[p] = compare((p,))
for name, row in sorted(rows.items(), key=lambda kv: kv[1]["max_abs_diff_rel"]):
    print(f"{name:40s} {len(row['points'])} k  max|diff|/max {row['max_abs_diff_rel']:.3f}  "
          f"edge {row['edge_shift_eV']:+.3f} eV")
if args.out:
    args.out.write_text(json.dumps({"site_dir": str(args.site_dir), "rows": rows}, indent=1))
