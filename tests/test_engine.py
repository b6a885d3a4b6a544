"""The core-hole DFT engine on tiny real cells (8-atom Si, 9-atom quartz): physics and failures.

Tiny cells need a k-mesh both for the SCF and for the spectrum (at Gamma alone the 8-atom
cell's conduction band is a handful of states and the Si0 -> Si4+ shift vanishes).
"""

from dataclasses import replace

import numpy as np
import pytest

from amorphxas.core.errors import EngineError
from amorphxas.core.spectrum import STUDY2, broaden, edge_energy
from amorphxas.spectra.qe import PRESETS, Executables
from amorphxas.spectra.site import check_site, compute_site
from tests.conftest import needs_qe

TINY = replace(PRESETS["fast"], xs_polarisations=((1, 0, 0),), scf_kpoints=(2, 2, 2),
               xs_kpoints=(2, 2, 2))
FERMI = replace(TINY, occupied_cut="fermi")


def _edge(result):
    fine = np.arange(result.energy[0], result.energy[-1], 0.05)
    curve = broaden(result.energy, result.sigma.mean(axis=0), fine, STUDY2, TINY.xs_gamma)
    return edge_energy(fine, curve)


@pytest.fixture(scope="module")
def si_result(tmp_path_factory):
    from tests.conftest import si8_atoms

    return compute_site(si8_atoms(), 0, tmp_path_factory.mktemp("si"), TINY)


@needs_qe
def test_si_spectrum_is_finite_and_positive(si_result):
    assert np.all(np.isfinite(si_result.sigma)) and np.all(np.isfinite(si_result.energy))
    assert si_result.sigma.max() > 0
    assert si_result.sigma.min() >= -1e-3 * si_result.sigma.max()
    assert si_result.core_hole_iterations > 0


@needs_qe
def test_edge_is_converged_in_cutoff(si_result, si8, tmp_path):
    """The 20 Ry edge lies within 0.3 eV of a 30 Ry run of the same cell."""
    high = compute_site(si8, 0, tmp_path, replace(TINY, ecutwfc=30.0, ecutrho=240.0, conv_thr=1e-7))
    assert _edge(si_result) == pytest.approx(_edge(high), abs=0.3)


@needs_qe
def test_quartz_edge_lies_above_silicon_edge(si_result, quartz9, tmp_path):
    """Chemical shift Si0 -> Si4+ of several eV (experiment: ~6-8 eV from c-Si to quartz)."""
    quartz = compute_site(quartz9, 0, tmp_path, replace(TINY, xs_polarisations=(
        (1, 0, 0), (0, 1, 0), (0, 0, 1))))
    assert 3.0 < _edge(quartz) - _edge(si_result) < 11.0


@needs_qe
def test_bad_pw_input_is_a_one_line_error_naming_the_log(si8, tmp_path):
    with pytest.raises(EngineError, match=r"pw\.x failed: .*\(log: .*\.out\)") as info:
        compute_site(si8, 0, tmp_path / "w", replace(TINY, mixing_mode="no-such-mode"))
    assert "\n" not in str(info.value)


def test_missing_executable_says_how_to_fix():
    with pytest.raises(EngineError, match="not found on PATH: install Quantum ESPRESSO"):
        Executables(pw="pw-does-not-exist.x").check()


def test_site_checks(si8, quartz9):
    without_si = quartz9[[a.index for a in quartz9 if a.symbol == "O"]]
    with pytest.raises(EngineError, match="no Si atom"):
        check_site(without_si, 0)
    with pytest.raises(EngineError, match="not Si"):
        check_site(quartz9, [a.index for a in quartz9 if a.symbol == "O"][0])
    with pytest.raises(EngineError, match="out of range"):
        check_site(si8, 8)


def test_ground_state_cache_is_keyed_by_the_ground_state_protocol(tmp_path):
    """A ground state computed at one cut-off must never be reused at another (wrong dE_total)."""
    from amorphxas.spectra.site import ground_state_dir

    base = PRESETS["production"]
    same = [replace(base, xs_gamma=0.5), replace(base, n_procs=1), replace(base, xs_kpoints=(2, 2, 2)),
            replace(base, core_hole_gamma_only=True)]
    other = [replace(base, ecutwfc=30.0), replace(base, conv_thr=1e-6), replace(base, empty_bands=0.3),
             replace(base, degauss=0.02), replace(base, scf_kpoints=(2, 2, 2))]
    assert all(ground_state_dir(tmp_path, s) == ground_state_dir(tmp_path, base) for s in same)
    assert len({ground_state_dir(tmp_path, s) for s in [base, *other]}) == 1 + len(other)
    # the key of the campaign's cached ground states (scratch/<cell>/ground_state_<key>)
    assert ground_state_dir(tmp_path, PRESETS["production-v4"]).name == "ground_state_68e8c606f9"


def test_band_count_follows_the_empty_band_fraction(si8, tmp_path):
    """8-atom Si: 16 occupied bands, at least 8 empty; 600 Si atoms: 1200 + 10 % = 1320."""
    from amorphxas.spectra.qe import _n_bands

    assert _n_bands(si8, 0.2) == 16 + 8
    big = si8.repeat((5, 5, 3))
    assert _n_bands(big, 0.1) == 1200 + 120
    assert _n_bands(big, 0.2) == 1200 + 240


@needs_qe
def test_gamma_only_ground_state_has_the_k_point_total_energy(si8, tmp_path):
    """The ground state runs with real (gamma_only) wavefunctions to halve its cost; at k = Gamma
    its total energy must equal that of the general k-point code within the SCF tolerance."""
    from amorphxas.spectra.pseudo import prepare_pseudos
    from amorphxas.spectra.qe import parse_pw_output, run_mpi, write_pw_input

    settings = replace(PRESETS["fast"], conv_thr=1e-8, n_procs=1)
    pseudos = prepare_pseudos()
    energies = {}
    for gamma_only in (True, False):
        d = tmp_path / str(gamma_only)
        d.mkdir()
        write_pw_input(d / "gs.in", si8, settings, pseudos, "gs", d / "out", gamma_only=gamma_only)
        run_mpi(Executables(), "pw.x", d / "gs.in", d / "gs.out", d, 1)
        energies[gamma_only] = parse_pw_output(d / "gs.out").total_energy
    assert "gamma-point specific algorithms" in (tmp_path / "True" / "gs.out").read_text()
    assert energies[True] == pytest.approx(energies[False], abs=1e-4)  # eV


def test_gamma_only_refuses_a_k_mesh(si8, tmp_path):
    from amorphxas.spectra.qe import write_pw_input

    with pytest.raises(EngineError, match="gamma_only needs"):
        write_pw_input(tmp_path / "x.in", si8, TINY, None, "gs", tmp_path, gamma_only=True)


@pytest.fixture(scope="module")
def si_fermi(tmp_path_factory):
    from tests.conftest import si8_atoms

    return compute_site(si8_atoms(), 0, tmp_path_factory.mktemp("si_fermi"), FERMI)


@needs_qe
def test_fermi_cut_keeps_the_chains_and_the_edge(si_result, si_fermi):
    """The "fermi" occupied-state cut re-evaluates xspectra's own chains (kept in the result)
    and moves the edge of the 8-atom Si cell by less than the raw width from xspectra's cut."""
    from amorphxas.spectra.lanczos import RY_EV, cross_section

    result = si_fermi
    assert result.chains is not None and len(result.chains) == 1
    rel = result.energy - result.energy[0] + TINY.xs_emin  # back to eV from xe0
    expected = cross_section(result.chains[0], rel, result.xe0, TINY.xs_gamma,
                             occupied_width=TINY.degauss * RY_EV)
    assert np.allclose(result.sigma[0], expected, rtol=1e-9, atol=0)
    assert abs(_edge(result) - _edge(si_result)) < 0.3


@needs_qe
def test_kpoint_shift_runs_reproduce_the_mesh_points(si_fermi, si8, tmp_path):
    """xspectra run at single shifted k-points (``xs_kpoint_shifts``) computes the same Lanczos
    chains as the whole 2x2x2 mesh run at those points: point s/2 is mesh point 4 s1 + 2 s2 + s3."""
    mesh = si_fermi
    subset = compute_site(si8, 0, tmp_path, replace(FERMI, xs_kpoint_shifts=((0, 1, 1), (1, 1, 0))))
    assert mesh.chains[0].a.shape[0] == 8 and subset.chains[0].a.shape[0] == 2
    for j, k in enumerate((3, 6)):
        np.testing.assert_allclose(subset.chains[0].a[j, :40], mesh.chains[0].a[k, :40], rtol=1e-4)
        np.testing.assert_allclose(subset.chains[0].b[j, :40], mesh.chains[0].b[k, :40], rtol=1e-4)
    assert not np.allclose(mesh.chains[0].a[3, :40], mesh.chains[0].a[6, :40], rtol=1e-4)
    per_k = [subset.seconds["kpoint_cpu_xanes_0_k011"], subset.seconds["kpoint_cpu_xanes_0_k110"]]
    assert min(per_k) > 0 and sum(per_k) == pytest.approx(subset.seconds["cpu_xanes_0"])


@needs_qe
def test_gamma_only_core_hole_scf_gives_the_k_point_spectrum(si8, tmp_path):
    """``core_hole_gamma_only``: the core-hole SCF with real wavefunctions, its save directory
    converted for xspectra (amorphxas.spectra.qe_save), must give the k-point code's energies and
    Lanczos chains at shifted k-points (a wrong G order or a missing half of rho(G) would not)."""
    settings = replace(FERMI, scf_kpoints=(1, 1, 1), conv_thr=1e-9, n_procs=1,
                       xs_kpoint_shifts=((0, 0, 0), (0, 1, 1)))
    kpoint = compute_site(si8, 0, tmp_path / "k", settings)
    gamma = compute_site(si8, 0, tmp_path / "g", replace(settings, core_hole_gamma_only=True))
    assert gamma.core_hole_energy == pytest.approx(kpoint.core_hole_energy, abs=1e-4)  # eV
    assert gamma.core_hole_gamma_only and not kpoint.core_hole_gamma_only
    assert 0 < gamma.seconds["cpu_core_hole_scf"] and 0 < gamma.seconds["cpu_xanes_0"]
    assert gamma.xe0 == pytest.approx(kpoint.xe0, abs=1e-3)
    a, b = gamma.chains[0], kpoint.chains[0]
    np.testing.assert_allclose(a.a[:, :30], b.a[:, :30], rtol=1e-4)
    np.testing.assert_allclose(a.b[:, :30], b.b[:, :30], rtol=1e-4)
    np.testing.assert_allclose(a.norm, b.norm, rtol=1e-4)
    # later Lanczos steps amplify the ~1e-6 difference of the two potentials (measured: chains
    # agree to 1e-4 for 35-40 steps; broadened spectra to 0.09 % of the maximum, a conv_thr
    # 1e-7 k-point run to 0.02 %)
    fine = np.arange(kpoint.energy[0], kpoint.energy[-1], 0.05)
    curves = [broaden(r.energy, r.sigma.mean(axis=0), fine, STUDY2, TINY.xs_gamma)
              for r in (gamma, kpoint)]
    assert np.abs(curves[0] - curves[1]).max() < 5e-3 * curves[1].max()


def test_gamma_only_core_hole_needs_a_gamma_scf():
    with pytest.raises(EngineError, match="core_hole_gamma_only needs"):
        replace(TINY, core_hole_gamma_only=True)


def test_kpoint_gvector_order_is_qe_order():
    """QE's k-point code orders G-vectors by |G|^2, ties by Miller indices (i, j, k) as its
    generating loop runs (checked against 19 pw.x densities of the project's cells, cubic and
    hexagonal); a hand-made fixture of a cubic cell's first shells."""
    from amorphxas.spectra.qe_save import kpoint_gvector_order

    shells = [(0, 0, 0), (-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, 0, 1), (0, 1, 0), (1, 0, 0),
              (-1, -1, 0), (-1, 0, -1), (-1, 0, 1), (-1, 1, 0), (0, -1, -1), (0, -1, 1),
              (0, 1, -1), (0, 1, 1), (1, -1, 0), (1, 0, -1), (1, 0, 1), (1, 1, 0)]
    mill = np.array(shells[::-1])
    alat = 20.0
    order = kpoint_gvector_order(mill, np.eye(3) * 2 * np.pi / alat, alat)
    assert [tuple(m) for m in mill[order]] == shells
    # a tetragonal cell splits the |G| = 1 shell: c* shorter than a*, so (0, 0, +-1) first
    order = kpoint_gvector_order(mill, np.diag([1.0, 1.0, 0.5]) * 2 * np.pi / alat, alat)
    assert [tuple(m) for m in mill[order]][:3] == [(0, 0, 0), (0, 0, -1), (0, 0, 1)]


def test_gamma_save_conversion_fills_the_other_half_sphere(tmp_path):
    """rho(-G) = conj(rho(G)) on a hand-made half-sphere density, and a clear error for a
    density that is not one."""
    from amorphxas.spectra.qe_save import (
        ChargeDensity,
        full_sphere,
        read_charge_density,
        write_charge_density,
    )

    half = ChargeDensity(True, np.eye(3) * 0.5, np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0]]),
                         np.array([[2.0 + 0j, 0.1 + 0.2j, 0.3 - 0.1j]]))
    write_charge_density(tmp_path / "rho.dat", half)
    full = full_sphere(read_charge_density(tmp_path / "rho.dat"), alat=4 * np.pi)
    values = {tuple(m): r for m, r in zip(full.mill, full.rho[0])}
    assert not full.gamma_only and len(values) == 5
    assert values[(0, 0, -1)] == 0.1 - 0.2j and values[(-1, 0, 0)] == 0.3 + 0.1j
    with pytest.raises(EngineError, match="not from a gamma_only run"):
        full_sphere(full, alat=4 * np.pi)
    (tmp_path / "bad.dat").write_bytes(b"nonsense")
    with pytest.raises(EngineError, match="bad.dat: not a readable QE charge-density"):
        read_charge_density(tmp_path / "bad.dat")


def test_cpu_seconds_reads_qe_clock_reports(tmp_path):
    """Hand-made fixture lines in the formats pw.x and xspectra.x 6.7 print."""
    from amorphxas.spectra.qe import cpu_seconds

    log = tmp_path / "x.out"
    log.write_text("     electrons    :    194.81s CPU    760.12s WALL (       1 calls)\n"
                   "     PWSCF        :   3m18.48s CPU  12m53.14s WALL\n"
                   "     xanes        :     31.55s CPU    110.57s WALL (       1 calls)\n")
    assert cpu_seconds(log, "PWSCF") == pytest.approx(198.48)
    assert cpu_seconds(log, "xanes") == pytest.approx(31.55)
    log.write_text("     PWSCF        :  1h 2m CPU      1h 5m WALL\n")
    assert cpu_seconds(log, "PWSCF") == pytest.approx(3720.0)
    assert cpu_seconds(log, "missing") == 0.0
