"""amorphxas.core.validation: arrays in, one-line errors naming what (and where) is wrong.

Inputs are hand-made fixtures (small arrays), not data.
"""

from __future__ import annotations

import numpy as np
import pytest

from amorphxas.core.errors import AmorphxasError, InputError
from amorphxas.core.validation import check_matrix, check_same_rows, check_spectrum


class StageError(AmorphxasError):
    """A stage's own error type, as forward/inverse pass it."""


def _one_line(info) -> bool:
    return "\n" not in str(info.value)


def test_good_matrix_is_float64_and_unchanged():
    A = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = check_matrix(A, "X")
    assert out.dtype == np.float64 and out.shape == (2, 3)
    assert np.array_equal(out, A)
    assert check_matrix([1.0, 2.0], "x", ndim=1).shape == (2,)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_with_their_count_and_row(value):
    A = np.ones((5, 4))
    A[3, 1] = value
    A[4, 0] = value
    message = r"descriptors X: 2 NaN or infinite value\(s\), first in row 3"
    with pytest.raises(InputError, match=message) as info:
        check_matrix(A, "descriptors X")
    assert _one_line(info)


def test_wrong_dimensions_empty_and_columns_are_refused():
    with pytest.raises(InputError, match=r"X: expected a 2-D array, got shape \(4,\)"):
        check_matrix(np.ones(4), "X")
    with pytest.raises(InputError, match=r"expected a 2-D array, got shape \(2, 2, 2\)"):
        check_matrix(np.ones((2, 2, 2)), "X")
    with pytest.raises(InputError, match=r"X: empty array \(shape \(0, 3\)\)"):
        check_matrix(np.ones((0, 3)), "X")
    with pytest.raises(InputError, match=r"model input: needs 256 energy points per row \(COMMON_GRID\), "
                                         r"got shape \(3, 100\)"):
        check_matrix(np.ones((3, 100)), "model input", n_columns=256, columns="energy points",
                     hint=" (COMMON_GRID)")


def test_one_row_is_promoted_only_when_asked():
    assert check_matrix(np.ones(7), "x", promote_1d=True).shape == (1, 7)
    with pytest.raises(InputError, match="expected a 2-D array"):
        check_matrix(np.ones(7), "x")


@pytest.mark.parametrize("bad, reason", [
    ([["a", "b"]], "not a numeric array"),
    ([[1.0, 2.0], [3.0]], "not a numeric array"),
    (np.array([[1 + 2j]]), "not a numeric array"),
])
def test_non_numeric_input_is_one_line(bad, reason):
    with pytest.raises(InputError, match=reason) as info:
        check_matrix(bad, "X")
    assert _one_line(info)  # scikit-learn's own message for complex input spans lines


def test_source_and_error_type_are_the_callers():
    A = np.ones((2, 2))
    A[0, 1] = np.nan
    with pytest.raises(StageError, match=r"^runs/x.npy: X: 1 NaN") as info:
        check_matrix(A, "X", source="runs/x.npy", error=StageError)
    assert not isinstance(info.value, InputError)
    assert issubclass(InputError, ValueError)  # scikit-learn callers catch ValueError


def test_rows_must_match():
    check_same_rows(np.ones((3, 2)), np.ones((3, 5)), "X", "Y")
    with pytest.raises(InputError, match="X have 3 rows but Y have 2: one row per site in both"):
        check_same_rows(np.ones((3, 2)), np.ones((2, 5)), "X", "Y")


ENERGY = np.linspace(1830.0, 1880.0, 11)


def test_good_spectrum_and_stack():
    e, y = check_spectrum(ENERGY, np.ones(11))
    assert e.dtype == y.dtype == np.float64
    e, y = check_spectrum(ENERGY, np.ones((2, 3, 11)), stacked=True)
    assert y.shape == (2, 3, 11)


@pytest.mark.parametrize("energy, intensity, message", [
    (ENERGY, np.ones(5), r"spectrum: 11 energies but 5 intensities"),
    (ENERGY[::-1], np.ones(11), r"spectrum: energy must be strictly increasing \(step 0: 1880 -> 1875 eV\)"),
    (np.array([1.0, 1.0, 2.0]), np.ones(3), "strictly increasing"),
    (ENERGY[:2], np.ones(2), r"spectrum has 2 points; at least 3 are needed"),
    (ENERGY, np.where(ENERGY > 1850, np.nan, 1.0),
     r"spectrum intensity: 6 NaN or infinite value\(s\), first at index 5"),
    (np.where(ENERGY > 1870, np.inf, ENERGY), np.ones(11), r"spectrum energy: 2 NaN or infinite"),
    (ENERGY, np.ones((2, 11)), r"energy must be 1-D \(m,\) and intensity \(m,\)"),
])
def test_bad_spectra_are_refused(energy, intensity, message):
    with pytest.raises(InputError, match=message) as info:
        check_spectrum(energy, intensity)
    assert _one_line(info)


def test_spectrum_error_names_the_file():
    with pytest.raises(StageError, match=r"^data/s.csv: measured: 11 energies but 4 intensities$"):
        check_spectrum(ENERGY, np.ones(4), "measured", source="data/s.csv", error=StageError)


def test_stage_validators_keep_their_error_types():
    """The stages' validators are this helper with their own error class and wording."""
    from amorphxas.core.spectrum import broaden
    from amorphxas.forward.ridge import ForwardError, check_xy
    from amorphxas.inverse.nn import check_X
    from amorphxas.inverse.preprocess import InverseInputError
    from amorphxas.inverse.preprocess import check_spectrum as inverse_check

    with pytest.raises(ForwardError, match="descriptors X have 3 rows but spectra Y have 2"):
        check_xy(np.ones((3, 2)), np.ones((2, 4)))
    with pytest.raises(InverseInputError, match="256 energy points"):
        check_X(np.ones((2, 100)))
    assert check_X(np.ones(256)).shape == (1, 256)
    with pytest.raises(InverseInputError, match="energies"):
        inverse_check(ENERGY, np.ones(3))
    with pytest.raises(AmorphxasError, match="raw spectrum intensity: 1 NaN"):
        broaden(ENERGY, np.where(ENERGY == ENERGY[4], np.nan, 1.0))
