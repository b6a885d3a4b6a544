"""Make a ``gamma_only`` pw.x save directory readable by xspectra.x as a k-point run.

Why: real wavefunctions at k = Gamma make a 100-atom SCF ~2.7x cheaper per iteration than the
k-point code at the same point (measured on the dataset's ground states, docs/spectra.md), but
xspectra.x 6.7 applies the Hamiltonian at its own (shifted) k-points and needs a save directory
written by the k-point code. xspectra only needs the self-consistent density from it (it rebuilds
the potential and its own k-points, ``reset_k_points_and_reinit_nscf``), so the gamma_only save is
converted instead of recomputed:

* ``charge-density.dat``: a gamma_only run stores rho(G) on half of the G sphere; the k-point
  code stores the whole sphere, in its global order (by |G|^2, ties in the order of the
  generating loop over Miller indices i, j, k, i.e. lexicographic; QE's ``ggen`` with
  ``hpsort_eps``, eps 1e-8 in (2 pi / alat)^2). rho(-G) = conj(rho(G)) fills the other half.
* ``data-file-schema.xml``: ``gamma_only`` false, the G-vector counts of the whole sphere, and
  ``wf_collected`` false (the real wavefunctions are not converted; xspectra does not use them:
  it takes ``xe0`` from the input and builds its chains from the potential).

No maintained library writes QE's binary density format, hence this module; it handles the
plain Fortran-binary ``.dat`` files of Debian's QE 6.7 (not the HDF5 build). Its output is checked
against the k-point code in ``tests/test_engine.py`` (same density, same Lanczos chains).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import FortranFile

from amorphxas.core.errors import EngineError

# QE's tolerance for equal |G|^2 in hpsort_eps, in units of (2 pi / alat)^2
_G2_EPS = 1e-8


@dataclass
class ChargeDensity:
    """rho(G) as pw.x writes it: ``mill`` (ngm, 3) Miller indices, ``rho`` (nspin, ngm) complex,
    ``bvectors`` (3, 3) reciprocal vectors (rows, 1/bohr including 2 pi)."""

    gamma_only: bool
    bvectors: np.ndarray
    mill: np.ndarray
    rho: np.ndarray


def read_charge_density(path: Path) -> ChargeDensity:
    """Read a Fortran-binary ``charge-density.dat`` (QE 6.x ``write_rhog``)."""
    try:
        with FortranFile(path, "r") as handle:
            gamma_only, ngm, nspin = (int(v) for v in handle.read_record(np.int32))
            bvectors = handle.read_record(np.float64).reshape(3, 3)
            mill = handle.read_record(np.int32).reshape(ngm, 3)
            rho = np.array([handle.read_record(np.complex128) for _ in range(nspin)])
    except (OSError, ValueError, TypeError) as error:
        raise EngineError(f"{path}: not a readable QE charge-density.dat ({error})") from error
    if rho.shape != (nspin, ngm):
        raise EngineError(f"{path}: {rho.shape[1]} density components for {ngm} G-vectors")
    return ChargeDensity(bool(gamma_only), bvectors, mill, rho)


def write_charge_density(path: Path, density: ChargeDensity) -> None:
    """Write ``density`` in the format of :func:`read_charge_density` (atomically)."""
    tmp = Path(path).with_suffix(".tmp")
    ngm = len(density.mill)
    with FortranFile(tmp, "w") as handle:
        handle.write_record(np.array([int(density.gamma_only), ngm, len(density.rho)], np.int32))
        handle.write_record(np.asarray(density.bvectors, np.float64).ravel())
        handle.write_record(np.ascontiguousarray(density.mill, np.int32).ravel())
        for component in density.rho:
            handle.write_record(np.asarray(component, np.complex128))
    os.replace(tmp, path)


def kpoint_gvector_order(mill: np.ndarray, bvectors: np.ndarray, alat: float) -> np.ndarray:
    """Permutation putting the G-vectors ``mill`` (n, 3) in the global order of QE's k-point
    code: ascending |G|^2, equal values (within QE's 1e-8 (2 pi / alat)^2) lexicographic in the
    Miller indices. ``bvectors`` (3, 3) rows in 1/bohr, ``alat`` in bohr."""
    tpiba = 2 * np.pi / alat
    reduced = np.asarray(bvectors, float) / tpiba
    # the same sum as QE's ggen: t = i b1 + j b2 + k b3, tt = sum(t**2)
    t = (mill[:, :1] * reduced[0] + mill[:, 1:2] * reduced[1]) + mill[:, 2:3] * reduced[2]
    g2 = np.sum(t ** 2, axis=1)
    g2[g2 <= _G2_EPS] = 0.0
    by_g2 = np.lexsort((mill[:, 2], mill[:, 1], mill[:, 0], g2))
    # a step of at least eps between neighbours starts a new shell; a shell is ordered by index
    steps = np.diff(g2[by_g2]) >= _G2_EPS
    shell = np.concatenate([[0], np.cumsum(steps)])
    sorted_mill = mill[by_g2]
    within = np.lexsort((sorted_mill[:, 2], sorted_mill[:, 1], sorted_mill[:, 0], shell))
    return by_g2[within]


def full_sphere(density: ChargeDensity, alat: float) -> ChargeDensity:
    """The whole-sphere density of a gamma_only one, in the k-point code's order."""
    if not density.gamma_only:
        raise EngineError("the charge density is not from a gamma_only run")
    mill = density.mill
    is_zero = np.all(mill == 0, axis=1)
    if is_zero.sum() != 1:
        raise EngineError("a gamma_only density must hold G = 0 exactly once")
    mill_full = np.concatenate([mill, -mill[~is_zero]])
    rho_full = np.concatenate([density.rho, np.conj(density.rho[:, ~is_zero])], axis=1)
    if len(np.unique(mill_full, axis=0)) != len(mill_full):
        raise EngineError("the gamma_only density holds both G and -G: not a half sphere")
    order = kpoint_gvector_order(mill_full, density.bvectors, alat)
    return ChargeDensity(False, density.bvectors, mill_full[order], rho_full[:, order])


def _set_tag(text: str, tag: str, value: str, path: Path) -> str:
    pattern = rf"<{tag}>[^<]*</{tag}>"
    if len(re.findall(pattern, text)) < 1:
        raise EngineError(f"{path}: no <{tag}> in the QE data file")
    return re.sub(pattern, f"<{tag}>{value}</{tag}>", text)


def _count(text: str, tag: str, path: Path) -> int:
    match = re.search(rf"<{tag}>\s*(\d+)\s*</{tag}>", text)
    if match is None:
        raise EngineError(f"{path}: no <{tag}> in the QE data file")
    return int(match.group(1))


def gamma_save_to_kpoint(save_dir: Path) -> None:
    """Convert the save directory ``<prefix>.save`` of a gamma_only SCF in place so that
    xspectra.x reads it as a k-point run (see the module docstring). Idempotent."""
    save_dir = Path(save_dir)
    xml_path = save_dir / "data-file-schema.xml"
    try:
        text = xml_path.read_text()
    except OSError as error:
        raise EngineError(f"{xml_path}: cannot read the QE data file ({error})") from error
    if re.search(r"<gamma_only>\s*false\s*</gamma_only>", text):
        return
    alat_match = re.search(r'<atomic_structure[^>]*alat="([^"]+)"', text)
    if alat_match is None:
        raise EngineError(f"{xml_path}: no alat in <atomic_structure>")
    density_path = save_dir / "charge-density.dat"
    density = read_charge_density(density_path)
    if density.gamma_only:  # (not yet converted by an interrupted earlier call)
        density = full_sphere(density, float(alat_match.group(1)))
        write_charge_density(density_path, density)
    # counts of the whole sphere: every G != 0 of the half sphere and its opposite
    for tag in ("ngm", "ngms", "npwx"):
        text = _set_tag(text, tag, str(2 * _count(text, tag, xml_path) - 1), xml_path)
    if _count(text, "ngm", xml_path) != len(density.mill):
        raise EngineError(f"{xml_path}: <ngm> disagrees with {density_path}")
    text = _set_tag(text, "gamma_only", "false", xml_path)
    text = _set_tag(text, "wf_collected", "false", xml_path)
    for wavefunction in save_dir.glob("wfc*.dat"):
        wavefunction.unlink()
    tmp = xml_path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, xml_path)
