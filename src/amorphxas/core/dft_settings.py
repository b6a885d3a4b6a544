"""The DFT protocol: every number that defines a spectrum (:class:`DFTSettings`) and the named
protocols (:data:`PRESETS`; ``DFTSettings()`` is ``production-v4``, the embedded dataset's).

The one place to change the DFT settings; :mod:`amorphxas.spectra.qe` writes them into Quantum
ESPRESSO inputs (and re-exports these names).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

import numpy as np

from amorphxas.core.errors import EngineError

OCCUPIED_CUTS = ("xspectra", "fermi")

# the "fcc" subgroup of the 2x2x2 mesh, {000, 011, 101, 110}/2: the Gamma point of a 4x
# (body-centred) supercell, invariant under permutations of the axes
FCC4_SHIFTS = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))


@dataclass(frozen=True)
class DFTSettings:
    """Every number that defines a spectrum (stored as provenance with each site).

    Energies in Ry for cut-offs and smearing (QE units), eV for spectral parameters. The
    defaults are the production protocol (``PRESETS["production-v4"]``, the embedded dataset's);
    a dataset's stored settings that lack a field are completed with the value the field had
    before it existed (:func:`completed_settings`), never with these defaults.
    """

    ecutwfc: float = 25.0
    ecutrho: float = 200.0
    conv_thr: float = 1e-5  # Ry, total for the cell
    mixing_beta: float = 0.3
    mixing_mode: str = "local-TF"
    mixing_ndim: int = 8
    smearing: str = "mv"  # cold smearing: F ~ E(sigma -> 0) to third order
    degauss: float = 0.01  # Ry
    # empty bands as a fraction of the occupied ones (at least 8): smearing needs a few above the
    # Fermi level; xspectra builds its own final states, so more only cost Davidson time
    empty_bands: float = 0.1
    core_hole_charge: float = 1.0  # tot_charge of the core-hole cell: full core hole (FCH)
    # measured on a 100-atom a-Si site: from the ground-state density the charged core-hole cell
    # starts far from self-consistency (46 Ry) and its first Davidson step costs 4x more;
    # from atomic densities: 15 iterations, 303 s, same energy to 4e-7 Ry (docs/spectra.md)
    restart_from_ground_state: bool = False
    # run the core-hole SCF with real wavefunctions at Gamma (~2.7x cheaper per iteration for
    # 100-atom cells) and convert its save directory for xspectra (amorphxas.spectra.qe_save);
    # same density, chains and energies as the k-point code (tests/test_engine.py)
    core_hole_gamma_only: bool = True
    scf_kpoints: tuple[int, int, int] = (1, 1, 1)
    xs_kpoints: tuple[int, int, int] = (2, 2, 2)
    # a subset of the 2x2x2 mesh: the points s/2 (crystal coordinates), s in {0, 1}^3, each run
    # by xspectra as a 1x1x1 mesh shifted by s (it reads no explicit k-point lists); None = the
    # whole ``xs_kpoints`` mesh in one run
    xs_kpoint_shifts: tuple[tuple[int, int, int], ...] | None = FCC4_SHIFTS
    xs_polarisations: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    xs_niter: int = 250
    xs_error: float = 2e-2
    xs_check_conv: int = 50
    # eV, HWHM of the raw data's Lorentzian: 0.3 eV converges the Lanczos chain in ~600 steps
    # (0.1 eV had not converged after 1000) and stays below study 2's 0.8 eV (docs/spectra.md)
    xs_gamma: float = 0.3
    xs_emin: float = -15.0  # eV relative to the Fermi level of the core-hole cell
    xs_emax: float = 55.0
    xs_nepoint: int = 1401
    cut_occ_states: bool = True
    # how occupied states leave the spectrum: "xspectra" (its sharp contour-integral cut, the
    # plotted xanes.dat) or "fermi" (the Lanczos chains re-evaluated here with the empty fraction
    # of a Fermi-Dirac function as wide as the SCF smearing; amorphxas.spectra.lanczos)
    occupied_cut: str = "fermi"
    n_procs: int = 1
    max_seconds: float = 3 * 3600.0

    def __post_init__(self) -> None:
        if self.core_hole_gamma_only and (tuple(self.scf_kpoints) != (1, 1, 1)
                                          or self.restart_from_ground_state):
            raise EngineError("core_hole_gamma_only needs scf_kpoints (1, 1, 1) and no "
                              "restart_from_ground_state")
        if self.occupied_cut not in OCCUPIED_CUTS:
            raise EngineError(f"unknown occupied_cut {self.occupied_cut!r}; choose one of "
                              f"{list(OCCUPIED_CUTS)}")
        if self.xs_kpoint_shifts is not None:
            shifts = [tuple(s) for s in self.xs_kpoint_shifts]
            if tuple(self.xs_kpoints) != (2, 2, 2) or self.occupied_cut != "fermi":
                raise EngineError("xs_kpoint_shifts selects points of the 2x2x2 mesh and needs "
                                  "xs_kpoints (2, 2, 2) and occupied_cut 'fermi'")
            if not shifts or len(set(shifts)) != len(shifts) or any(
                    len(s) != 3 or set(s) - {0, 1} for s in shifts):
                raise EngineError(f"xs_kpoint_shifts must be distinct triples of 0/1, not {shifts}")

    def xs_mesh_indices(self) -> list[int]:
        """Positions of the spectrum's k-points in xspectra's 2x2x2 mesh order (all eight
        without ``xs_kpoint_shifts``): the point s/2 is number 4 s1 + 2 s2 + s3."""
        if self.xs_kpoint_shifts is None:
            return list(range(int(np.prod(self.xs_kpoints))))
        return [4 * s1 + 2 * s2 + s3 for s1, s2, s3 in self.xs_kpoint_shifts]

    def as_dict(self) -> dict:
        return asdict(self)

    def ground_state_key(self) -> str:
        """Short hash of the settings a ground-state SCF depends on (its cache key)."""
        relevant = {k: v for k, v in self.as_dict().items()
                    if not k.startswith("xs_") and k not in GROUND_STATE_INDEPENDENT}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:10]


# fields that do not change the ground-state SCF of a cell
GROUND_STATE_INDEPENDENT = {"core_hole_charge", "restart_from_ground_state", "cut_occ_states",
                            "core_hole_gamma_only", "occupied_cut", "n_procs", "max_seconds"}


# session 1's protocol (30/240 Ry, conv_thr 1e-6 Ry, 20 % empty bands, spectrum at Gamma with
# xspectra's own occupied-state cut): the older presets are built from it
_V1 = DFTSettings(ecutwfc=30.0, ecutrho=240.0, conv_thr=1e-6, empty_bands=0.2,
                  core_hole_gamma_only=False, xs_kpoints=(1, 1, 1), xs_kpoint_shifts=None,
                  xs_niter=1000, xs_error=1e-2, occupied_cut="xspectra", n_procs=2)

PRESETS = {
    # session 6: "production-v3" with the spectrum on the four fcc points of its 2x2x2 mesh: half
    # the xspectra cost. Polarisation-averaged, against all eight points, on the 17 sites of
    # siox_sik_v3.h5: max |diff| 0.5-2.2 % of the maximum (median 1.0 %), edges within 0.03 eV;
    # Gamma alone 2.3-10.7 % (benchmarks/studies/fcc_half_mesh/kmesh_subsets_dataset.py, docs/spectra.md)
    # Since session 7 its core-hole SCF runs with real wavefunctions (core_hole_gamma_only, a
    # runtime choice): ~2.8x less CPU per SCF iteration, spectra within 0.35 % of the k-point
    # code's on two 100-atom sites (benchmarks/studies/gamma_core_hole/bench_gamma_core_hole.py,
    # docs/spectra.md)
    "production-v4": DFTSettings(),  # the defaults
    # session 4: "production" with a smooth occupied-state cut and 250 Lanczos steps. xspectra's
    # sharp cut moved the white line of an x = 1.75 site by 20-30 % of its maximum between chains
    # of 250, 300 and 350-400 steps; with the Fermi-Dirac cut (width = the SCF smearing, 0.136
    # eV) 250 steps are within 0.7 % of the full chains on four sites (docs/spectra.md)
    "production-v3": replace(_V1, ecutwfc=25.0, ecutrho=200.0, conv_thr=1e-5, empty_bands=0.1,
                             n_procs=1, xs_kpoints=(2, 2, 2), xs_error=0.02, xs_niter=250,
                             occupied_cut="fermi"),
    # the dataset protocol (session 3): "production-gamma" with the spectrum on a 2x2x2 k-mesh
    # and Lanczos tolerance 0.02. At Gamma a 100-atom cell's spectrum is off by 10-15 % of its
    # maximum (Si4+ / Si0 site); 2x2x2 with xerror 0.02 is within 0.9 % of 2x2x2 with 0.01
    # (docs/spectra.md)
    "production": replace(_V1, ecutwfc=25.0, ecutrho=200.0, conv_thr=1e-5, empty_bands=0.1,
                          n_procs=1, xs_kpoints=(2, 2, 2), xs_error=0.02),
    # session 2's protocol, spectrum at Gamma: 25/200 Ry, conv_thr 1e-5 Ry, 10 % empty bands, one
    # MPI rank per site; against "production-v1" on five sites Si0..Si4+: spectra within 2.0 % of
    # their maximum, edges within 0.04 eV, 1.7-1.9x cheaper core-hole SCFs (docs/spectra.md)
    "production-gamma": replace(_V1, ecutwfc=25.0, ecutrho=200.0, conv_thr=1e-5, empty_bands=0.1,
                                n_procs=1),
    # session 1's protocol, kept to reproduce it
    "production-v1": _V1,
    # a cheap protocol for tests on tiny cells only: never for data
    "fast": replace(_V1, ecutwfc=20.0, ecutrho=160.0, conv_thr=1e-5, xs_niter=300,
                    xs_nepoint=701, xs_check_conv=20),
}


# a screening protocol: "production-v4" with the spectrum at Gamma only (its three Gamma chains
# out of twelve); k-sampling error and cost measured in docs/spectra.md (session 8). A v4 dataset
# re-evaluates to it without DFT (`amorphxas dataset reevaluate ... --to-preset screening-gamma`)
PRESETS["screening-gamma"] = replace(PRESETS["production-v4"], xs_kpoint_shifts=((0, 0, 0),))


def completed_settings(stored: dict) -> dict:
    """``stored`` (the JSON settings a dataset or an input folder recorded) with every field it
    lacks at the value that field had before it existed: production-v1's (a field is only ever
    added with the behaviour the code had without it)."""
    return {**json.loads(json.dumps(PRESETS["production-v1"].as_dict())), **stored}


def get_settings(preset: str | DFTSettings) -> DFTSettings:
    if isinstance(preset, DFTSettings):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise EngineError(f"unknown DFT preset {preset!r}; choose one of {sorted(PRESETS)}") from None
