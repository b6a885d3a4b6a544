"""The core-hole DFT engine on tiny real cells (seconds each): physics and failure handling."""

from dataclasses import replace

import numpy as np
import pytest

from amorphxas.errors import EngineError
from amorphxas.spectra.processing import COMMON_GRID, STUDY1, broaden, edge_energy
from amorphxas.spectra.qe import PRESETS, Executables
from amorphxas.spectra.site import check_site, compute_site
from tests.conftest import needs_qe

FAST = replace(PRESETS["fast"], xs_polarisations=((1, 0, 0),), n_procs=2)


def _broadened(result, constant=0.0):
    fine = np.arange(result.energy[0], result.energy[-1], 0.05) + constant
    return fine, broaden(result.energy + constant, result.sigma.mean(axis=0), fine, STUDY1, 0.1)


@needs_qe
def test_si_spectrum_is_finite_positive_and_converged_in_cutoff(si8, tmp_path):
    low = compute_site(si8, 0, tmp_path / "low", FAST)
    high = compute_site(si8, 0, tmp_path / "high", replace(FAST, ecutwfc=30.0, ecutrho=240.0,
                                                              conv_thr=1e-7))
    for result in (low, high):
        assert np.all(np.isfinite(result.sigma))
        assert result.sigma.min() >= -1e-3 * result.sigma.max()
        assert result.sigma.max() > 0
    e_low, s_low = _broadened(low)
    e_high, s_high = _broadened(high)
    # the aligned edge of the 20 Ry run lies within 0.3 eV of the 30 Ry run
    assert edge_energy(e_low, s_low) == pytest.approx(edge_energy(e_high, s_high), abs=0.3)


@needs_qe
def test_quartz_edge_lies_above_silicon_edge(si8, quartz9, tmp_path):
    """Chemical shift Si0 -> Si4+: several eV (experiment ~6-8 eV between c-Si and quartz)."""
    si = compute_site(si8, 0, tmp_path / "si", FAST)
    qz = compute_site(quartz9, 0, tmp_path / "qz", replace(FAST, xs_polarisations=(
        (1, 0, 0), (0, 1, 0), (0, 0, 1))))
    shift = edge_energy(*_broadened(qz)) - edge_energy(*_broadened(si))
    assert 3.0 < shift < 11.0


@needs_qe
def test_rebroadening_raw_data_reproduces_itself(si8, tmp_path):
    result = compute_site(si8, 0, tmp_path / "w", FAST)
    once = broaden(result.energy, result.sigma.mean(axis=0), COMMON_GRID - 1800, STUDY1, 0.1)
    again = broaden(result.energy.copy(), result.sigma.copy().mean(axis=0), COMMON_GRID - 1800,
                    STUDY1, 0.1)
    assert np.array_equal(once, again)


@needs_qe
def test_bad_pw_input_is_a_one_line_error_naming_the_log(si8, tmp_path):
    with pytest.raises(EngineError, match=r"pw\.x failed: .*\(log: .*\.out\)") as info:
        compute_site(si8, 0, tmp_path / "w", replace(FAST, mixing_mode="no-such-mode"))
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
