"""Train/test splits of labelled site spectra and the minimum-data rule, for every learning stage.

Why here: a split needs only per-site labels (cell ids, valences) and a seed, not the dataset
file, a descriptor or a model, so it sits in the foundation beside input validation; forward and
inverse both stand on it without importing each other (the fixed test reserve of the active
learning, :mod:`amorphxas.dataset.testset`, is a property of the data and stays in ``dataset``).

Three splits (all seeded with ``numpy.random.default_rng(seed)``; the same seed gives the same
split on every machine, as before they were shared):

* :func:`split_stratified` - study 1's "random" split: a test set stratified by a class label
  (the valence), ``min(test_per_class, round(test_fraction * count))`` per class, at least 1 for
  a class with 2+ sites (forward models);
* :func:`split_sites` - study 2's random 80/20 split over sites, at least :data:`MIN_TEST_SITES`
  test sites (inverse models);
* :func:`split_cells` - the honest split for new samples: whole cells go to the test set (random
  order) until it holds ``test_fraction`` of the sites; at least one cell stays in training.

Minimum data: :data:`MIN_SITES_FORWARD` and :data:`MIN_SITES_INVERSE` are the same rule (the
fewest labelled site spectra one train + test run accepts, refused with a one-line error below
it) for two model families with different needs, hence two numbers; see their comments.
"""

from __future__ import annotations

import numpy as np

from amorphxas.core.errors import AmorphxasError, InputError

#: fewest test sites of a split (one test site gives no spread of the error)
MIN_TEST_SITES = 2
#: fewest labelled site spectra a forward-model run accepts: the ridge chooses alpha by 5-fold
#: CV on the training part (a ~20 % test part, at least one site per valence, leaves 9-10)
MIN_SITES_FORWARD = 12
#: fewest labelled site spectra an inverse-network run accepts: MIN_TEST_SITES to test and
#: 8 to train (early stopping holds out 15 % of those)
MIN_SITES_INVERSE = 10


def split_stratified(labels, seed: int = 0, test_per_class: int = 50,
                     test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx shuffled, test_idx sorted) with a test set stratified by ``labels`` (n,)
    integer classes (study 1: 50 test sites per valence; here ``min(test_per_class,
    round(test_fraction * count))``, at least 1 for a class with 2+ sites)."""
    labels = np.asarray(labels, int)
    rng = np.random.default_rng(seed)
    test: list[int] = []
    for v in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == v))
        k = min(test_per_class, int(round(test_fraction * rows.size)))
        if rows.size >= 2:
            k = max(k, 1)
        test.extend(rows[:k].tolist())
    test_idx = np.sort(np.array(test, dtype=int))
    train = np.setdiff1d(np.arange(labels.size), test_idx)
    return rng.permutation(train), test_idx


def split_sites(n: int, seed: int = 0, test_fraction: float = 0.2,
                min_test: int = MIN_TEST_SITES) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx sorted, test_idx sorted): a random ``test_fraction`` of ``n`` sites (at least
    ``min_test``) for testing (study 2's 80/20 split)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(min_test, int(round(test_fraction * n)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def split_cells(cell_id, seed: int = 0, test_fraction: float = 0.2, shuffle_train: bool = True,
                error: type[AmorphxasError] = InputError) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx sorted) with no cell on both sides: whole cells, in random order,
    go to the test set until it holds at least ``test_fraction`` of the sites; the last cell in
    that order always stays in training. ``shuffle_train``: train indices in random order (the
    forward models' convention), else sorted. Fewer than 2 cells: one-line ``error``."""
    cell_id = np.asarray(cell_id).astype(str)
    cells = np.unique(cell_id)
    if cells.size < 2:
        raise error(f"a split by cell needs spectra from at least 2 cells, have {cells.size}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(cells)
    test_cells: list[str] = []
    n_test = 0
    for c in order[:-1]:
        if n_test >= test_fraction * cell_id.size:
            break
        test_cells.append(c)
        n_test += int(np.sum(cell_id == c))
    is_test = np.isin(cell_id, test_cells)
    train = np.flatnonzero(~is_test)
    return (rng.permutation(train) if shuffle_train else train), np.flatnonzero(is_test)
