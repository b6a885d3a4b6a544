"""Cross-sections from xspectra's Lanczos chains, checked against xspectra.x itself.

Fixture: the first 120 Lanczos coefficients of the 8 k-point chains of one real site
(x = 1.75 cell, site 51, x polarisation, production protocol), cut from its save file
(``tests/data/lanczos_x1.75_site51_pol0.sav``; the first n coefficients of a chain do not depend on
where it stopped).
"""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from amorphxas.core.errors import EngineError
from amorphxas.spectra.lanczos import (
    chains_as_arrays,
    chains_from_arrays,
    cross_section,
    read_save_file,
)
from amorphxas.spectra.qe import read_xanes_file
from tests.conftest import needs_qe

SAVE = Path(__file__).parent / "data" / "lanczos_x1.75_site51_pol0.sav"
XE0 = 5.7383  # eV, the core-hole SCF's Fermi level of that site
ENERGY = np.linspace(-15.0, 55.0, 701)


def _xspectra_plot(tmp_path: Path, cut: bool, desmooth: float = 0.1) -> np.ndarray:
    """xspectra.x re-plotting the fixture chains (xonly_plot), raw HWHM 0.3 eV."""
    text = f"""&input_xspectra
  calculation = 'xanes_dipole'
  prefix = 'ch'
  outdir = '{tmp_path}/none'
  xiabs = 2
  xepsilon(1) = 1, xepsilon(2) = 0, xepsilon(3) = 0
  xe0 = {XE0}
  xniter = 1000
  xcheck_conv = 50
  x_save_file = '{SAVE.resolve()}'
  xonly_plot = .true.
/
&plot
  xnepoint = 701
  xgamma = 0.3
  xemin = -15.0
  xemax = 55.0
  terminator = .true.
  cut_occ_states = {'.true.' if cut else '.false.'}
  xanes_file = 'plot.dat'
/
&pseudos
  filecore = 'unused'
/
&cut_occ
  cut_desmooth = {desmooth}
/
2 2 2 0 0 0
"""
    (tmp_path / "plot.in").write_text(text)
    subprocess.run(["xspectra.x", "-inp", "plot.in"], cwd=tmp_path, check=True,
                   capture_output=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    energy, sigma = read_xanes_file(tmp_path / "plot.dat")
    assert np.allclose(energy, ENERGY, atol=1e-6)
    return sigma


def test_save_file_is_read_with_its_chain_lengths():
    chains = read_save_file(SAVE)
    assert chains.a.shape == chains.b.shape == (8, 120)
    assert chains.steps.tolist() == [120] * 8
    # Lanczos coefficients of a 25 Ry basis: centre ~ 12 Ry, half-width ~ 6 Ry
    assert 10 < chains.a[:, 50:].mean() < 14 and 5 < chains.b[:, 50:].mean() < 7.5
    assert chains.truncated(100).steps.max() == 100


@needs_qe
def test_uncut_cross_section_equals_xspectra(tmp_path):
    reference = _xspectra_plot(tmp_path, cut=False)
    mine = cross_section(read_save_file(SAVE), ENERGY, XE0, 0.3)
    # xspectra prints 8 decimals: the comparison is limited by its rounding
    assert np.abs(mine - reference).max() < 2e-4 * reference.max()


@needs_qe
def test_narrow_fermi_cut_matches_xspectra_sharp_cut_away_from_the_fermi_level(tmp_path):
    """Two independent implementations of removing the occupied states (xspectra's contour
    integral, and here the eta-broadened spectral function times 1 - f) agree where the
    cut's own smoothing does not act."""
    reference = _xspectra_plot(tmp_path, cut=True, desmooth=0.05)
    mine = cross_section(read_save_file(SAVE), ENERGY, XE0, 0.3, occupied_width=0.01, eta=0.01)
    away = np.abs(ENERGY) > 1.0
    assert np.abs(mine - reference)[away].max() < 0.01 * reference.max()


def test_fermi_cut_removes_weight_only():
    chains = read_save_file(SAVE)
    uncut = cross_section(chains, ENERGY, XE0, 0.3)
    cut = cross_section(chains, ENERGY, XE0, 0.3, occupied_width=0.136)
    assert np.all(cut <= uncut * (1 + 1e-6) + 1e-12) and np.all(cut > -1e-12)
    below = ENERGY < -3.0  # deep in the occupied states: almost everything removed
    assert cut[below].max() < 0.2 * uncut[below].max()
    above = ENERGY > 10.0  # far above: only the occupied states' Lorentzian tails removed
    assert np.all(cut[above] > 0.9 * uncut[above])


def test_chains_round_trip_through_arrays():
    """Chains are stored in float32 and read at that precision, so what is stored evaluates to
    exactly what was evaluated before storing."""
    chains = read_save_file(SAVE)
    arrays = chains_as_arrays([chains, chains.truncated(80)])
    assert arrays["lanczos_a"].dtype == np.float32 and arrays["lanczos_norm"].dtype == np.float32
    back = chains_from_arrays(arrays)
    assert np.array_equal(back[0].a, chains.a) and np.array_equal(back[0].norm, chains.norm)
    assert back[1].steps.max() == 80
    assert np.array_equal(cross_section(back[1], ENERGY, XE0, 0.3),
                          cross_section(chains.truncated(80), ENERGY, XE0, 0.3))


def test_bad_save_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.sav"
    bad.write_text(re.sub(r"^.*\n", "", SAVE.read_text(), count=1))
    with pytest.raises(EngineError, match=r"bad\.sav: cannot read the Lanczos chains"):
        read_save_file(bad)


def test_unknown_occupied_cut_is_refused_before_any_dft():
    from amorphxas.spectra.qe import DFTSettings

    with pytest.raises(EngineError, match="unknown occupied_cut 'sharp'"):
        DFTSettings(occupied_cut="sharp")


def test_terminator_averages_the_coefficients_xspectra_averages():
    """xspectra's ``green`` (xspectra_utils.f90) is called with m = steps - 1 and closes the
    fraction with the mean of a(m-1), ..., a(m-q), 1-based, q = xcheck_conv / 2. A hand-made
    chain whose coefficients all differ makes any off-by-one visible."""
    from amorphxas.spectra.lanczos import LanczosChains, green

    a = np.array([[0.10, 0.40, 0.20, 0.70, 0.30, 0.90, 0.50]])
    b = np.array([[0.30, 0.20, 0.50, 0.10, 0.60, 0.40, 0.80]])
    chains = LanczosChains(a, b, np.ones(1), np.array([7]), check_conv=4)
    z = np.array([0.35 + 0.02j])
    m, q = 6, 2
    a_inf = np.mean([a[0, m - p - 1] for p in range(1, q + 1)])  # a(m-p), 1-based
    b_inf = np.mean([b[0, m - p - 1] for p in range(1, q + 1)])
    w = a_inf - z
    roots = [(w - np.sqrt(w * w - 4 * b_inf**2)) / 2, (w + np.sqrt(w * w - 4 * b_inf**2)) / 2]
    res = next(r for r in roots if r.imag < 0)
    for i in range(1, m):
        res = a[0, m - i - 1] - z - b[0, m - i - 1] ** 2 / res
    np.testing.assert_allclose(green(chains, z)[0], 1 / res, rtol=1e-12)


def test_xspectra_input_values_are_read_back_from_a_written_input(tmp_path):
    """The benchmarks find a run's chains and energy zero from the input amorphxas wrote."""
    from amorphxas.spectra.qe import (
        PRESETS,
        write_xspectra_input,
        xspectra_input_value,
        xspectra_save_file,
    )

    path = tmp_path / "run" / "xanes_0.in"
    path.parent.mkdir()
    write_xspectra_input(path, PRESETS["production-v3"], "ch", tmp_path / "out", 2, (1, 0, 0),
                         tmp_path / "core.wfc", 5.8156, "xanes_0.dat")
    assert float(xspectra_input_value(path, "xe0")) == pytest.approx(5.8156)
    assert xspectra_save_file(path) == tmp_path / "run" / "xanes_0.dat.sav"
    with pytest.raises(EngineError, match="no xnepoints"):
        xspectra_input_value(path, "xnepoints")


def test_kpoint_subsets_join_back_to_the_mesh_spectrum():
    """A spectrum is the plain mean over k-points, so the chains of two disjoint halves of the
    mesh, joined, give the whole mesh's cross-section; a half alone differs (k-sampling)."""
    from amorphxas.spectra.lanczos import join_kpoints

    chains = read_save_file(SAVE)
    fcc, rest = chains.kpoints([0, 3, 5, 6]), chains.kpoints([1, 2, 4, 7])
    assert fcc.a.shape == (4, 120) and np.array_equal(fcc.a[1], chains.a[3])
    joined = join_kpoints([fcc, rest.truncated(100)])
    assert joined.steps.tolist() == [120] * 4 + [100] * 4
    whole = cross_section(chains.kpoints([0, 3, 5, 6, 1, 2, 4, 7]).truncated(120), ENERGY, XE0, 0.3)
    np.testing.assert_allclose(cross_section(join_kpoints([fcc, rest]), ENERGY, XE0, 0.3),
                               cross_section(chains, ENERGY, XE0, 0.3), rtol=1e-10)
    np.testing.assert_allclose(whole, cross_section(chains, ENERGY, XE0, 0.3), rtol=1e-10)
    half = cross_section(fcc, ENERGY, XE0, 0.3)
    assert np.abs(half - whole).max() > 1e-3 * whole.max()
    narrow = join_kpoints([fcc, read_save_file(SAVE).truncated(50).kpoints([1])])
    assert narrow.a.shape == (5, 120)  # padded to the widest run


def test_kpoint_shifts_must_be_points_of_the_2x2x2_mesh(tmp_path):
    from dataclasses import replace

    from amorphxas.spectra.qe import PRESETS, write_xspectra_input

    v4 = PRESETS["production-v4"]
    assert v4.xs_mesh_indices() == [0, 3, 5, 6]
    assert PRESETS["production-v3"].xs_mesh_indices() == list(range(8))
    for bad in ({"xs_kpoints": (3, 3, 3)}, {"occupied_cut": "xspectra"},
                {"xs_kpoint_shifts": ((0, 0, 2),)}, {"xs_kpoint_shifts": ((0, 0, 0), (0, 0, 0))}):
        with pytest.raises(EngineError, match="xs_kpoint_shifts"):
            replace(v4, **bad)
    path = tmp_path / "x.in"
    write_xspectra_input(path, v4, "ch", tmp_path, 2, (1, 0, 0), tmp_path / "c", 5.0, "x.dat",
                         (1, 0, 1))
    assert path.read_text().rstrip().endswith("1 1 1 1 0 1")
