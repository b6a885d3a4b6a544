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
