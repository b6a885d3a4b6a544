"""The held-out test sites: a fixed random 20 % of all Si sites, from a seeded hash of the key.

A site ``<cell_id>:<atom_index>`` is *test-reserved* when the SHA-256 of ``"<seed>:<key>"``, read
as a number in [0, 1), is below the fraction. The rule needs no stored list, never changes when
cells or spectra are added, and is the same on every machine. Active learning never trains on a
reserved site and never picks one for training; ``amorphxas select`` spends the same fraction of
every batch on reserved sites chosen at random, so the computed test set is not biased by the
selection (:func:`amorphxas.forward.active.select_with_test_reserve`).
"""

from __future__ import annotations

import hashlib

import numpy as np

TEST_FRACTION = 0.2
TEST_SEED = 23  # fixed: changing it would move sites between training and test


def hash_uniform(keys, seed: int = TEST_SEED) -> np.ndarray:
    """A number in [0, 1) per key (str), shape (n,): the first 8 bytes of SHA-256(seed:key)."""
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}:{k}".encode()).digest()[:8], "big")
                     / 2.0**64 for k in keys], dtype=float)


def is_test_reserved(cell_id, atom_index, fraction: float = TEST_FRACTION,
                  seed: int = TEST_SEED) -> np.ndarray:
    """Boolean mask (n,) of the test-reserved sites among ``cell_id``/``atom_index`` (n,)."""
    from amorphxas.dataset.store import site_key

    keys = [site_key(str(c), int(i)) for c, i in zip(cell_id, atom_index)]
    return hash_uniform(keys, seed) < float(fraction)
