"""Broadening, edge, alignment and normalisation against independent computations."""

import numpy as np
import pytest

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import (
    Broadening,
    alignment_constant,
    broaden,
    edge_energy,
    main_peak,
    normalise_edge_step,
    normalise_max_of_mean,
)

RAW = np.linspace(1800.0, 1900.0, 5001)  # 0.02 eV step


def _delta(at):
    y = np.zeros_like(RAW)
    y[np.argmin(abs(RAW - at))] = 1.0 / (RAW[1] - RAW[0])
    return y


def test_gaussian_broadening_of_a_line_is_the_gaussian():
    grid = np.linspace(1840, 1860, 401)
    out = broaden(RAW, _delta(1850.0), grid, Broadening("gaussian", sigma=1.0), raw_gamma=0.0)
    expected = np.exp(-0.5 * (grid - 1850.0) ** 2) / np.sqrt(2 * np.pi)
    assert np.max(abs(out - expected)) < 2e-3 * expected.max() + 1e-9
    assert np.trapezoid(out, grid) == pytest.approx(1.0, rel=1e-3)


def test_lorentzian_adds_to_the_raw_width():
    grid = np.linspace(1840, 1860, 2001)
    raw_gamma = 0.1
    raw = raw_gamma / np.pi / ((RAW - 1850.0) ** 2 + raw_gamma**2)
    out = broaden(RAW, raw, grid, Broadening("lorentzian", gamma=0.8), raw_gamma=raw_gamma)
    half = out.max() / 2
    above = grid[out >= half]
    assert (above[-1] - above[0]) / 2 == pytest.approx(0.8, abs=0.03)


def test_edge_and_peak_of_known_shapes():
    grid = np.linspace(1830, 1880, 2001)
    step = 1 / (1 + np.exp(-(grid - 1845.0) / 0.5))
    assert edge_energy(grid, step) == pytest.approx(1845.0, abs=0.01)
    assert main_peak(grid, np.exp(-((grid - 1846.37) ** 2))) == pytest.approx(1846.37, abs=0.01)


def test_alignment_constant_puts_quartz_peak_on_target():
    raw = np.exp(-0.5 * ((RAW - 1800.0 - 30.0) / 0.3) ** 2)
    constant = alignment_constant(RAW - 1800.0 + 0.0 * RAW, raw[None, :], target=1846.8,
                                  raw_gamma=0.1)
    assert constant + 30.0 == pytest.approx(1846.8, abs=0.02)


def test_normalisation_is_order_independent_and_rejects_degenerate_input():
    rng = np.random.default_rng(0)
    spectra = rng.random((6, 20))
    si4 = np.array([1, 0, 1, 0, 0, 1], bool)
    norm, scale = normalise_max_of_mean(spectra, si4)
    order = rng.permutation(6)
    norm2, scale2 = normalise_max_of_mean(spectra[order], si4[order])
    assert scale == pytest.approx(scale2)
    assert norm[si4].mean(axis=0).max() == pytest.approx(1.0)
    with pytest.raises(AmorphxasError):
        normalise_max_of_mean(spectra, np.zeros(6, bool))
    with pytest.raises(AmorphxasError):
        normalise_max_of_mean(np.zeros((2, 5)), np.ones(2, bool))
    grid = np.linspace(1830, 1880, 256)
    stepped = normalise_edge_step(grid, 3.0 * np.ones((2, 256)))
    assert np.allclose(stepped, 1.0)


def test_nan_raw_spectrum_is_a_clear_error():
    y = np.ones_like(RAW)
    y[3] = np.nan
    with pytest.raises(AmorphxasError, match="NaN"):
        broaden(RAW, y)


def test_broaden_accepts_raw_data_narrower_than_its_kernel():
    """A raw window under 60 eV (the +-30 eV kernel) is broadened on its own length; a
    Lorentzian of HWHM 0.3 eV broadened to 0.8 eV stays a Lorentzian of HWHM 0.8 eV (hand-made
    test fixture)."""
    from amorphxas.core.spectrum import STUDY2

    energy = np.linspace(-20.0, 20.0, 401)  # 0.1 eV steps, 40 eV wide
    raw = 0.3 / np.pi / (energy**2 + 0.3**2)
    out = broaden(energy, raw, energy, STUDY2, raw_gamma=0.3)
    assert out.shape == energy.shape
    expected = 0.8 / np.pi / (energy**2 + 0.8**2)
    centre = np.abs(energy) < 5
    np.testing.assert_allclose(out[centre], expected[centre], rtol=0.03)
