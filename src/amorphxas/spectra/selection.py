"""Which sites a campaign computes next: stratified by valence and composition, random, or a
sites file (e.g. from active learning), always without the sites already done."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from amorphxas.core.errors import AmorphxasError
from amorphxas.dataset import load_sites, store
from amorphxas.sites.analysis import MAX_VALENCE

SELECTIONS = ("random", "stratified")


@dataclass
class SiteTask:
    """One site to compute: a cell of the dataset and the index of its absorbing Si atom."""

    cell_id: str
    atom_index: int

    @property
    def key(self) -> str:
        return store.site_key(self.cell_id, self.atom_index)


def read_sites_file(sites_file: Path) -> list[SiteTask]:
    """The sites of a JSON list of {"cell_id", "atom_index"} objects (one-line error if not)."""
    try:
        items = json.loads(Path(sites_file).read_text())
        return [SiteTask(str(item["cell_id"]), int(item["atom_index"])) for item in items]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AmorphxasError(
            f"{sites_file}: not a JSON list of {{cell_id, atom_index}} ({exc})") from None


def select_sites(dataset: Path, how: str = "stratified", n: int = 10, seed: int = 0,
                 sites_file: Path | None = None) -> list[SiteTask]:
    """Sites to compute next, excluding those already done.

    ``stratified``: round-robin over (valence, composition) strata so every valence Si0..Si4+
    and every composition gets sites early; ``random``: uniform over all not-done Si sites;
    ``sites_file``: a JSON list of {"cell_id", "atom_index"} (e.g. from active learning).
    """
    done = store.done_keys(dataset)
    if sites_file is not None:
        return [t for t in read_sites_file(sites_file) if t.key not in done]
    sites = load_sites(dataset)
    rng = random.Random(seed)
    candidates = [SiteTask(c, int(i)) for c, i in zip(sites.cell_id, sites.atom_index)]
    strata: dict[tuple, list[SiteTask]] = {}
    for task, valence, x in zip(candidates, sites.valence, sites.composition_x):
        # over-coordinated Si (5-6 O, an artefact of short Tersoff quenches) are not Si0..Si4+
        if task.key not in done and valence <= MAX_VALENCE:
            strata.setdefault((int(valence), round(float(x), 2)), []).append(task)
    if how == "random":
        pool = [t for group in strata.values() for t in group]
        rng.shuffle(pool)
        return pool[:n]
    if how != "stratified":
        raise AmorphxasError(f"unknown site selection {how!r}: use random or stratified")
    counts = _done_counts(done, sites)
    for group in strata.values():
        rng.shuffle(group)
    chosen: list[SiteTask] = []
    while len(chosen) < n and any(strata.values()):
        # the least-populated valence first, then the least-populated composition within it
        key = min((k for k, v in strata.items() if v),
                  key=lambda k: (counts.get(("v", k[0]), 0), counts.get(("x", k[1]), 0), k))
        task = strata[key].pop()
        chosen.append(task)
        counts[("v", key[0])] = counts.get(("v", key[0]), 0) + 1
        counts[("x", key[1])] = counts.get(("x", key[1]), 0) + 1
    return chosen


def _done_counts(done: set[str], sites) -> dict:
    """Done sites per valence ("v", valence) and per composition ("x", x rounded to 0.01)."""
    counts: dict = {}
    for c, i, v, x in zip(sites.cell_id, sites.atom_index, sites.valence, sites.composition_x):
        if store.site_key(c, i) in done:
            counts[("v", int(v))] = counts.get(("v", int(v)), 0) + 1
            counts[("x", round(float(x), 2))] = counts.get(("x", round(float(x), 2)), 0) + 1
    return counts
