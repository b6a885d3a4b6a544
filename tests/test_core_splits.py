"""amorphxas.core.splits: the splits forward and inverse share, and the minimum-data rule.

Cell ids and valences are hand-made fixtures, not data.
"""

from __future__ import annotations

import numpy as np
import pytest

from amorphxas.core.errors import InputError
from amorphxas.core.splits import (
    MIN_SITES_FORWARD,
    MIN_SITES_INVERSE,
    MIN_TEST_SITES,
    split_cells,
    split_sites,
    split_stratified,
)

CELLS = np.array([f"c{i % 7}" for i in range(60)], dtype=object)
VALENCE = np.array([i % 5 for i in range(60)])


@pytest.mark.parametrize("seed", range(5))
def test_cell_split_keeps_cells_apart_and_reaches_the_fraction(seed):
    train, test = split_cells(CELLS, seed, 0.2)
    assert not set(CELLS[train]) & set(CELLS[test])
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(60))
    assert test.size >= 0.2 * 60 and set(CELLS[train])  # at least one cell trains
    sorted_train, same_test = split_cells(CELLS, seed, 0.2, shuffle_train=False)
    assert np.array_equal(same_test, test) and np.array_equal(sorted_train, np.sort(train))


def test_cell_split_needs_two_cells():
    with pytest.raises(InputError, match="at least 2 cells, have 1"):
        split_cells(["a"] * 5)


def test_stratified_split_tests_every_valence():
    train, test = split_stratified(VALENCE, 0, test_fraction=0.2)
    assert sorted(set(VALENCE[test].tolist())) == [0, 1, 2, 3, 4]
    assert all(np.sum(VALENCE[test] == v) == 2 for v in range(5))  # round(0.2 * 12)
    assert not set(train) & set(test) and train.size + test.size == 60


def test_site_split_has_at_least_the_minimum_test_sites():
    train, test = split_sites(6, 0)
    assert test.size == MIN_TEST_SITES and train.size == 4
    train, test = split_sites(100, 3)
    assert test.size == 20 and np.array_equal(np.sort(np.r_[train, test]), np.arange(100))


def test_the_stages_use_the_shared_rule():
    from amorphxas.forward import MIN_SITES as forward_min
    from amorphxas.forward.metrics import split_cell
    from amorphxas.inverse import MIN_SITES as inverse_min
    from amorphxas.inverse.workflow import split_indices

    assert (forward_min, inverse_min) == (MIN_SITES_FORWARD, MIN_SITES_INVERSE)
    # one algorithm: the forward and inverse cell splits hold out the same sites
    assert np.array_equal(split_cell(CELLS, 4)[1], split_indices(60, CELLS, "cell", 4)[1])
