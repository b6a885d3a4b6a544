"""How far are cheaper k-samplings from the 2x2x2 mesh, site by site, over the whole dataset?

xspectra's cost is linear in the number of k-points and every stored site keeps its Lanczos
chains per k-point (3 polarisations x the 8 TRIM points of the 2x2x2 mesh), so the spectrum of
any subset of the mesh is the average over that subset's chains: no DFT is needed. For each site
this evaluates, with the dataset's own occupied-state cut, broadening, grid and alignment,

- Gamma alone (the ``production-gamma`` sampling),
- Gamma + R (2 points),
- the "fcc" subgroup {000, 011, 101, 110} (4 points, the k-sampling of a 4x supercell, the
  ``production-v4`` points),
- per-polarisation splits (session 7): each polarisation on its own part of the mesh (x, y, z
  on different k-points), 6 or 8 chains instead of 12 or 24,

and reports max |diff| / max against the full mesh and the edge shift (eV), so one can see
whether a composition-dependent mesh (e.g. Gamma for O-rich cells) would stay within the
protocol's 2 % / 0.05 eV tolerance.

    .venv/bin/python benchmarks/studies/fcc_half_mesh/kmesh_subsets_dataset.py \
        src/amorphxas/data/siox_sik_v3.h5 \
        --out docs/figures/spectra_kmesh_subsets_dataset.json
"""

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.spectrum import COMMON_GRID, DEFAULT_BROADENING, broaden, edge_energy
from amorphxas.spectra.lanczos import chains_from_arrays
from amorphxas.spectra.qe import PRESETS, get_settings
from amorphxas.spectra.site import occupied_fermi_cut

# k index = 4 s1 + 2 s2 + s3 for the TRIM point (s1, s2, s3) / 2 (xspectra's mesh order);
# one list of k-points for all polarisations, or one list per polarisation (x, y, z)
FCC4 = PRESETS["production-v4"].xs_mesh_indices()
SUBSETS = {
    "gamma": [0], "gamma+R": [0, 7], "fcc4": FCC4, "all8": list(range(8)),
    "axes: x {000,111}, y {011,100}, z {101,010}": [[0, 7], [3, 4], [5, 2]],
    "axes: x {000,111}, y {101,010}, z {011,100}": [[0, 7], [5, 2], [3, 4]],
    "axes: x {000,011}, y {101,110}, z {001,010}": [[0, 3], [5, 6], [1, 2]],
    "axes: fcc pairs x {000,110}, y {011,101}, z {000,011}": [[0, 6], [3, 5], [0, 3]],
    "axes: all 8 as 3/3/2": [[0, 3, 5], [6, 1, 2], [4, 7]],
}


def _per_polarisation(subset: list) -> list[list[int]]:
    return subset if isinstance(subset[0], list) else [subset] * 3


def site_curves(raw: h5py.Group, constant: float, settings) -> dict[str, np.ndarray]:
    """Broadened spectrum of each k-sampling (the dataset's cut, steps, broadening, grid)."""
    chains = chains_from_arrays(raw)
    xe0, delta = float(raw.attrs["xe0"]), float(raw.attrs["delta_total_energy"])
    energy = raw["energy"][()]
    curves = {}
    for name, subset in SUBSETS.items():
        sigma = np.array([
            occupied_fermi_cut(c.kpoints(ks).truncated(settings.xs_niter), energy - xe0 - delta,
                               xe0, settings)
            for c, ks in zip(chains, _per_polarisation(subset))])
        curves[name] = broaden(energy + constant, sigma.mean(axis=0), COMMON_GRID,
                               DEFAULT_BROADENING, settings.xs_gamma)
    return curves


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--preset", default="production-v3")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = get_settings(args.preset)
    rows = []
    with h5py.File(args.dataset, "r") as h5:
        spectra = h5["spectra"]
        constant = float(spectra.attrs["alignment_constant_eV"])
        for cell, index in zip(spectra["cell_id"].asstr()[()], spectra["atom_index"][()]):
            raw = spectra["raw"][f"{cell}:{index}"]
            if raw["lanczos_a"].shape[1] != 8:
                continue
            cell_sites = h5["sites"][cell]
            valence = int(cell_sites["valence"][list(cell_sites["atom_index"][()]).index(index)])
            curves = site_curves(raw, constant, settings)
            reference = curves["all8"]
            row = {"site": f"{cell}:{index}", "valence": valence}
            for name in (n for n in SUBSETS if n != "all8"):
                row[name] = {
                    "max_abs_diff_rel": float(np.abs(curves[name] - reference).max() / reference.max()),
                    "edge_shift_eV": float(edge_energy(COMMON_GRID, curves[name])
                                           - edge_energy(COMMON_GRID, reference))}
            rows.append(row)
            print(f"{row['site']:>20} Si{valence}+  " + "  ".join(
                f"{n} {row[n]['max_abs_diff_rel'] * 100:5.1f} % {row[n]['edge_shift_eV']:+.3f} eV"
                for n in ("gamma", "gamma+R", "fcc4")), flush=True)
    for name in (n for n in SUBSETS if n != "all8"):
        diffs = np.array([r[name]["max_abs_diff_rel"] for r in rows]) * 100
        edges = np.array([abs(r[name]["edge_shift_eV"]) for r in rows])
        print(f"{name}: {diffs.min():.1f}-{diffs.max():.1f} % (median {np.median(diffs):.1f} %), "
              f"|edge shift| <= {edges.max():.3f} eV")
    if args.out:
        args.out.write_text(json.dumps({"dataset": str(args.dataset), "preset": args.preset,
                                        "subsets": SUBSETS, "sites": rows}, indent=1))


if __name__ == "__main__":
    main()
