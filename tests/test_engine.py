"""The core-hole DFT engine on tiny real cells (8-atom Si, 9-atom quartz): physics and failures.

Tiny cells need a k-mesh both for the SCF and for the spectrum (at Gamma alone the 8-atom
cell's conduction band is a handful of states and the Si0 -> Si4+ shift vanishes).
"""

from dataclasses import replace

import numpy as np
import pytest

from amorphxas.errors import EngineError
from amorphxas.spectra.processing import STUDY2, broaden, edge_energy
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
    same = [replace(base, xs_gamma=0.5), replace(base, n_procs=1), replace(base, xs_kpoints=(2, 2, 2))]
    other = [replace(base, ecutwfc=30.0), replace(base, conv_thr=1e-6), replace(base, empty_bands=0.3),
             replace(base, degauss=0.02), replace(base, scf_kpoints=(2, 2, 2))]
    assert all(ground_state_dir(tmp_path, s) == ground_state_dir(tmp_path, base) for s in same)
    assert len({ground_state_dir(tmp_path, s) for s in [base, *other]}) == 1 + len(other)


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
