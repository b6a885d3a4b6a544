"""The resumable DFT campaign: many sites, one task each, written atomically into the dataset.

Each site is one task on a Dask cluster (a threaded ``LocalCluster`` by default: every task
spends its time in an MPI subprocess, so threads suffice and a killed campaign takes its
children with it; ``dask-jobqueue`` clusters for SLURM/PBS). Only the client writes the dataset,
one :func:`amorphxas.dataset.store.transaction` per finished site, so a kill at any moment leaves
the previous complete file; done sites are skipped on restart, failures are recorded with their
log and retried at most ``max_attempts`` times.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from amorphxas.core.errors import AmorphxasError, DatasetError
from amorphxas.core.spectrum import (
    COMMON_GRID,
    DEFAULT_BROADENING,
    Broadening,
    alignment_constant,
    broaden,
    edge_energy,
)
from amorphxas.dataset import load_sites, load_structure, store
from amorphxas.dataset.fidelity import fidelity_of_settings
from amorphxas.sites.analysis import MAX_VALENCE
from amorphxas.spectra.cluster import lost_worker_failure
from amorphxas.spectra.lanczos import LanczosChains, chains_as_arrays, chains_from_arrays
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import DFTSettings, allow_new_runs, get_settings, terminate_running
from amorphxas.spectra.site import SiteResult, compute_site, occupied_fermi_cut

ENGINE = "Quantum ESPRESSO pw.x + xspectra.x (Debian 6.7), core-hole FCH"
# smallest k-mesh of the reference spectra: quartz is converged at Gamma (72 atoms), diamond Si
# is not; a protocol with a denser mesh uses its own
REFERENCE_KPOINTS = {"alpha-quartz": (1, 1, 1), "diamond-si": (2, 2, 2)}
# settings that do not change a converged spectrum (numerical aids, resources)
from amorphxas.dataset.fidelity import RUNTIME_ONLY  # noqa: E402, I001
# settings that only change how stored Lanczos chains become a spectrum (no DFT to redo them)
CHAIN_EVALUATION = {"occupied_cut", "xs_niter", "xs_kpoint_shifts"}


@dataclass
class SiteTask:
    cell_id: str
    atom_index: int

    @property
    def key(self) -> str:
        return store.site_key(self.cell_id, self.atom_index)


def _json_attr(group: h5py.Group, name: str, default=None):
    value = group.attrs.get(name)
    if value is None:
        return default
    if isinstance(value, bytes):
        value = value.decode()
    return json.loads(value)


def select_sites(dataset: Path, how: str = "stratified", n: int = 10, seed: int = 0,
                 sites_file: Path | None = None) -> list[SiteTask]:
    """Sites to compute next, excluding those already done.

    ``stratified``: round-robin over (valence, composition) strata so every valence Si0..Si4+
    and every composition gets sites early; ``random``: uniform over all not-done Si sites;
    ``sites_file``: a JSON list of {"cell_id", "atom_index"} (e.g. from active learning).
    """
    done = store.done_keys(dataset)
    if sites_file is not None:
        try:
            items = json.loads(Path(sites_file).read_text())
            tasks = [SiteTask(str(item["cell_id"]), int(item["atom_index"])) for item in items]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AmorphxasError(
                f"{sites_file}: not a JSON list of {{cell_id, atom_index}} ({exc})") from None
        return [t for t in tasks if t.key not in done]
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
    counts = _done_counts(dataset, sites)
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


def _done_counts(dataset: Path, sites) -> dict:
    done = store.done_keys(dataset)
    counts: dict = {}
    for c, i, v, x in zip(sites.cell_id, sites.atom_index, sites.valence, sites.composition_x):
        if store.site_key(c, i) in done:
            counts[("v", int(v))] = counts.get(("v", int(v)), 0) + 1
            counts[("x", round(float(x), 2))] = counts.get(("x", round(float(x), 2)), 0) + 1
    return counts


def settings_for_dataset(dataset: Path, preset: str | DFTSettings) -> DFTSettings:
    """The dataset's own DFT settings if it has spectra; else the preset (and it must agree)."""
    settings = get_settings(preset)
    stored = _stored_settings(dataset)
    if stored:
        differing = _differing_settings(stored, settings, RUNTIME_ONLY)
        if differing:
            raise DatasetError(f"{dataset}: its spectra were computed with other DFT settings "
                               f"({', '.join(differing)}); one dataset holds one protocol")
    return settings


def _stored_settings(dataset: Path) -> dict:
    """The JSON settings a dataset's spectra were computed with ({} before its first spectrum);
    a field added after the dataset was written counts as its default value then."""
    with h5py.File(dataset, "r") as h5:
        stored = _json_attr(h5["spectra"], "settings")
    if not stored:
        return {}
    return {**json.loads(json.dumps(DFTSettings().as_dict())), **stored}


def _differing_settings(stored: dict, settings: DFTSettings, ignore: set[str]) -> list[str]:
    """Names of the fields (outside ``ignore``) where ``settings`` differs from ``stored``."""
    mine = json.loads(json.dumps(settings.as_dict()))
    return sorted(k for k in mine if k not in ignore and stored[k] != mine[k])


def check_broadening(dataset: Path, h5: h5py.File, broadening: Broadening) -> None:
    """One dataset holds one broadening: refuse ``broadening`` if its spectra have another."""
    stored = _json_attr(h5["spectra"], "broadening")
    if stored and Broadening(**stored) != broadening:
        raise DatasetError(f"{dataset}: its spectra are broadened with {stored}, not "
                           f"{broadening.as_dict()}; one dataset holds one broadening")


def _write_site(dataset: Path, task: SiteTask, result: SiteResult, settings: DFTSettings,
                broadening: Broadening, hashes: dict) -> None:
    _write_sites(dataset, [(task, result)], settings, broadening, hashes)


def _write_sites(dataset: Path, done: list[tuple[SiteTask, SiteResult]], settings: DFTSettings,
                 broadening: Broadening, hashes: dict) -> None:
    """Broaden, align and store finished sites in one transaction (all or none)."""
    with h5py.File(dataset, "r") as h5:
        constant = h5["spectra"].attrs.get("alignment_constant_eV")
    if constant is None:
        raise DatasetError(f"{dataset}: no alignment constant yet (compute the alpha-quartz "
                           "reference first)")
    with store.transaction(dataset) as h5:
        check_broadening(dataset, h5, broadening)
        for task, result in done:
            energy = result.energy + float(constant)
            intensity = broaden(energy, result.sigma.mean(axis=0), COMMON_GRID, broadening,
                                settings.xs_gamma)
            store.add_spectrum(h5, task.cell_id, task.atom_index, intensity,
                               edge_energy(COMMON_GRID, intensity), result.energy, result.sigma,
                               result.provenance(), _raw_chains(result),
                               fidelity=fidelity_of_settings(settings))
        _stamp(h5, settings, broadening, hashes)


def _raw_chains(result: SiteResult) -> dict[str, np.ndarray] | None:
    """The Lanczos chains to keep beside the raw spectrum (re-cutting then needs no DFT)."""
    return chains_as_arrays(result.chains) if result.chains else None


def _stamp(h5: h5py.File, settings: DFTSettings, broadening: Broadening, hashes: dict) -> None:
    spectra = h5["spectra"]
    spectra.attrs["engine"] = ENGINE
    spectra.attrs["settings"] = json.dumps(settings.as_dict())
    spectra.attrs["broadening"] = json.dumps(broadening.as_dict())
    spectra.attrs["pseudopotentials"] = json.dumps(hashes)
    spectra.attrs["raw_energy_scale"] = ("E_xspectra + xe0 + (E_total(core hole) - E_total(ground "
                                         "state)), eV; add alignment_constant_eV for the absolute scale")
    spectra.attrs["intensity_units"] = "xspectra cross-section, broadened, not normalised"
    spectra.attrs["edge_definition"] = "first crossing of half the maximum of the broadened spectrum"


def compute_references(dataset: Path, preset: str | DFTSettings, scratch: Path,
                       broadening: Broadening = DEFAULT_BROADENING, names=("alpha-quartz", "diamond-si"),
                       log=print) -> None:
    """Compute the crystal references (if missing) and set the alignment constant from quartz."""
    from amorphxas.structures import build_reference

    settings = get_settings(preset)
    with h5py.File(dataset, "r") as h5:
        check_broadening(dataset, h5, broadening)  # before any DFT
    pseudos = prepare_pseudos()
    for name in names:
        with h5py.File(dataset, "r") as h5:
            if name in h5["references"]:
                continue
        atoms = build_reference(name)
        index = atoms.get_chemical_symbols().index("Si")
        settings_name = _reference_settings(name, settings)
        log(f"reference {name}: {len(atoms)} atoms, site {index}")
        result = compute_site(atoms, index, Path(scratch) / f"reference_{name}", settings_name,
                              pseudos)
        write_reference(dataset, name, atoms, result, settings_name, broadening, pseudos.hashes())


def _reference_settings(name: str, settings: DFTSettings) -> DFTSettings:
    """The dataset protocol as applied to crystal reference ``name``: its converged k-mesh."""
    # references keep their whole mesh: computed once, and quartz fixes every site's alignment
    mesh = tuple(max(a, b) for a, b in zip(REFERENCE_KPOINTS[name], settings.xs_kpoints))
    settings_name = replace(settings, xs_kpoints=mesh, xs_kpoint_shifts=None)
    if name == "diamond-si":  # Td site: one polarisation is the isotropic average
        settings_name = replace(settings_name, xs_polarisations=((1, 0, 0),))
    return settings_name


def write_reference(dataset: Path, name: str, atoms, result: SiteResult, settings: DFTSettings,
                    broadening: Broadening, hashes: dict) -> None:
    """Store a reference; alpha-quartz also fixes (and re-applies) the alignment constant."""
    with store.transaction(dataset) as h5:
        check_broadening(dataset, h5, broadening)
        h5["spectra"].attrs["broadening"] = json.dumps(broadening.as_dict())
        constant = h5["spectra"].attrs.get("alignment_constant_eV")
        if name == "alpha-quartz":
            constant = alignment_constant(result.energy, result.sigma, broadening,
                                          settings.xs_gamma)
            h5["spectra"].attrs["alignment_constant_eV"] = constant
            h5["spectra"].attrs["alignment_reference"] = (
                "alpha-quartz main peak (broadened) at 1846.8 eV")
        if constant is None:
            raise DatasetError("compute alpha-quartz before other references")
        energy = result.energy + float(constant)
        intensity = broaden(energy, result.sigma.mean(axis=0), COMMON_GRID, broadening,
                            settings.xs_gamma)
        attrs = dict(result.provenance(), settings=settings.as_dict(), pseudopotentials=hashes,
                     n_atoms=len(atoms), formula=atoms.get_chemical_formula(),
                     structure_numbers=atoms.numbers.tolist(),
                     structure_cell=atoms.cell[:].tolist(),
                     structure_positions=atoms.positions.tolist())
        store.put_reference(h5, name, COMMON_GRID, intensity, result.energy, result.sigma, attrs,
                            _raw_chains(result))


def recut_site(source: Path, target: Path, cell_id: str, atom_index: int,
               chains: list[LanczosChains], preset: str | DFTSettings = "production-v3",
               broadening: Broadening = DEFAULT_BROADENING) -> None:
    """Move one site spectrum of ``source`` into ``target`` under a protocol that differs only
    in how the Lanczos chains are cut and evaluated (``occupied_cut``, ``xs_niter``).

    ``chains``: the site's chains, one per polarisation, as xspectra wrote them for ``source``.
    They are truncated to the target's ``xs_niter`` (a chain's first n coefficients are what an
    n-step run computes) and evaluated with the target's cut on the source's raw energy grid;
    the source's core-hole SCF results (``xe0``, total energies) are reused. ``target`` needs
    its own alpha-quartz reference (alignment constant) first.
    """
    settings = settings_for_dataset(target, preset)
    old = _stored_settings(source)
    if not old:
        raise DatasetError(f"{source}: no spectra, so no DFT settings to compare")
    _check_chain_evaluation(source, old, target, settings, chains)
    key = store.site_key(cell_id, atom_index)
    with h5py.File(source, "r") as h5:
        if key not in h5["spectra/raw"]:
            raise DatasetError(f"{source}: no spectrum {key}")
        raw = h5["spectra/raw"][key]
        attrs = {name: raw.attrs[name] for name in raw.attrs}
        raw_energy = raw["energy"][()]
        hashes = _json_attr(h5["spectra"], "pseudopotentials") or {}  # those that made the chains
    if len(chains) != len(settings.xs_polarisations):
        raise DatasetError(f"{key}: {len(chains)} chains for {len(settings.xs_polarisations)} "
                           "polarisations")
    result = _evaluated(attrs, raw_energy, chains, settings)
    result.seconds["recut_from"] = str(Path(source).name)
    _write_site(target, SiteTask(cell_id, int(atom_index)), result, settings, broadening, hashes)


def _check_chain_evaluation(source: Path, old: dict, target: Path, settings: DFTSettings,
                            chains: list[LanczosChains]) -> None:
    """Refuse to move chains computed under settings ``old`` (a dict) to ``settings`` unless
    the two differ only in how chains are evaluated, and the chains hold what the target needs."""
    differing = _differing_settings(old, settings, RUNTIME_ONLY | CHAIN_EVALUATION)
    if differing:
        raise DatasetError(f"{source} -> {target}: protocols differ in {', '.join(differing)}; "
                           "only the chain evaluation can be redone without DFT")
    if old["xs_niter"] < settings.xs_niter and any(
            (c.steps >= old["xs_niter"]).any() for c in chains):
        raise DatasetError(f"{source}: chains stopped at xs_niter {old['xs_niter']}, fewer steps "
                           f"than the target's {settings.xs_niter}")
    held = _held_mesh_indices(old)
    if not set(settings.xs_mesh_indices()) <= set(held):
        raise DatasetError(f"{source}: its spectra hold the k-points {old['xs_kpoint_shifts']} "
                           f"only, not {json.loads(json.dumps(settings.xs_kpoint_shifts))}")


def _held_mesh_indices(stored: dict) -> list[int]:
    """Positions in the 2x2x2 (or whole) mesh of the k-points whose chains a dataset computed
    under the JSON settings ``stored`` holds."""
    held = DFTSettings(xs_kpoints=tuple(stored["xs_kpoints"]), occupied_cut=stored["occupied_cut"],
                       xs_kpoint_shifts=stored["xs_kpoint_shifts"])
    return held.xs_mesh_indices()


def _at_kpoints(chains: list[LanczosChains], settings: DFTSettings,
                held: list[int] | None = None) -> list[LanczosChains]:
    """``chains`` reduced to the protocol's k-points. ``held``: the mesh positions the chains
    hold (:func:`_held_mesh_indices`); default the whole mesh when there are as many chains, else
    exactly the protocol's points."""
    wanted = settings.xs_mesh_indices()
    n_mesh = int(np.prod(settings.xs_kpoints))
    out = []
    for c in chains:
        n_k = len(c.steps)
        points = held if held is not None else list(range(n_mesh)) if n_k == n_mesh else wanted
        if len(points) != n_k or not set(wanted) <= set(points):
            raise DatasetError(f"chains of {n_k} k-points (mesh positions {points}) do not hold "
                               f"the protocol's points {wanted}")
        out.append(c if points == wanted else c.kpoints([points.index(w) for w in wanted]))
    return out


def _evaluated(attrs, raw_energy: np.ndarray, chains: list[LanczosChains],
               settings: DFTSettings, held: list[int] | None = None) -> SiteResult:
    """A stored site or reference (its raw-group ``attrs``: core-hole SCF results) with its
    spectrum evaluated from ``chains`` (reduced to the protocol's k-points, truncated to
    ``settings.xs_niter``) on ``raw_energy`` (eV), with the protocol's occupied-state cut."""
    xe0, delta = float(attrs["xe0"]), float(attrs["delta_total_energy"])
    energy_rel = raw_energy - xe0 - delta
    truncated = [c.truncated(settings.xs_niter) for c in _at_kpoints(chains, settings, held)]
    sigma = np.array([occupied_fermi_cut(c, energy_rel, xe0, settings) for c in truncated])
    seconds = json.loads(attrs["seconds"]) if isinstance(attrs.get("seconds"), str) else {}
    return SiteResult(atom_index=int(attrs["atom_index"]), energy=raw_energy, sigma=sigma,
                      xe0=xe0, delta_total_energy=delta,
                      ground_state_energy=float(attrs["ground_state_energy"]),
                      core_hole_energy=float(attrs["core_hole_energy"]),
                      core_hole_iterations=int(attrs["core_hole_iterations"]),
                      seconds=seconds, chains=truncated,
                      core_hole_gamma_only=bool(attrs.get("core_hole_gamma_only", False)))


def reevaluate_dataset(source: Path, target: Path, preset: str | DFTSettings = "production-v3",
                       target_preset: str | DFTSettings | None = None,
                       broadening: Broadening = DEFAULT_BROADENING, log=print) -> int:
    """Write ``target``: ``source`` (computed with ``preset``) with every spectrum (references,
    then sites) evaluated again from its stored Lanczos chains by this amorphxas, e.g. after a
    fix of the chain evaluation, or under ``target_preset`` when that differs from ``preset``
    only in how chains are evaluated (:data:`CHAIN_EVALUATION`: cut, steps, k-point subset).
    No DFT runs; the alignment constant is re-fitted to the re-evaluated quartz.
    Returns the number of site spectra written."""
    from ase import Atoms

    source, target = Path(source), Path(target)
    if target.exists():
        raise DatasetError(f"{target}: exists; re-evaluation writes a new dataset")
    source_settings = settings_for_dataset(source, preset)
    if source_settings.occupied_cut != "fermi":
        raise DatasetError(f"{source}: protocol {source_settings.occupied_cut!r} keeps no chains")
    settings = get_settings(target_preset) if target_preset is not None else source_settings

    def stored(group, raw):  # (attrs with the core-hole SCF results, raw energy grid, chains)
        return dict(group.attrs), raw["energy"][()], chains_from_arrays(raw, settings.xs_check_conv)

    with h5py.File(source, "r") as h5:
        hashes = _json_attr(h5["spectra"], "pseudopotentials") or {}
        alignment = {name: h5["spectra"].attrs[name] for name in
                     ("alignment_constant_eV", "alignment_reference") if name in h5["spectra"].attrs}
        references = {name: stored(group, group["raw"]) for name, group in
                      sorted(h5["references"].items(), key=lambda item: item[0] != "alpha-quartz")}
        keys = [store.site_key(c.decode() if isinstance(c, bytes) else c, i) for c, i in
                zip(h5["spectra/cell_id"][()], h5["spectra/atom_index"][()])]  # rows keep their order
        sites = {key: stored(h5["spectra/raw"][key], h5["spectra/raw"][key]) for key in keys}
    _check_chain_evaluation(source, _stored_settings(source), target, settings,
                            [c for _, _, chains in sites.values() for c in chains])
    final, target = target, target.with_name(target.name + ".partial")  # complete or absent
    target.unlink(missing_ok=True)
    store.fork(source, target)
    with store.transaction(target) as new:  # quartz re-fits them
        new["spectra"].attrs.update(alignment)
    for name, (attrs, raw_energy, chains) in references.items():
        atoms = Atoms(numbers=json.loads(attrs["structure_numbers"]),
                      positions=json.loads(attrs["structure_positions"]),
                      cell=json.loads(attrs["structure_cell"]), pbc=True)
        settings_name = _reference_settings(name, settings)
        result = _evaluated(attrs, raw_energy, chains, settings_name)
        write_reference(target, name, atoms, result, settings_name, broadening, hashes)
        log(f"reference {name}")
    done = []
    held = _held_mesh_indices(_stored_settings(source))
    for key, (attrs, raw_energy, chains) in sites.items():
        cell_id, index = key.rsplit(":", 1)
        result = _evaluated(attrs, raw_energy, chains, settings, held)
        # its timings are those of the run that made the chains, under the source's protocol
        result.seconds.setdefault("reevaluated_from", source.name)
        done.append((SiteTask(cell_id, int(index)), result))
    if done:
        _write_sites(target, done, settings, broadening, hashes)  # one copy of the file, not N
    os.replace(target, final)
    Path(str(target) + ".lock").unlink(missing_ok=True)
    log(f"{len(keys)} site spectra")
    return len(keys)


# Dask settings for the campaign's own LocalCluster: no worker profiling, slow monitors, and a
# 1 s event-loop health tick instead of 20 ms (the tick was most of the orchestration's CPU,
# benchmarks/idle_cluster_cpu.py; docs/spectra.md)
QUIET_LOCAL_CLUSTER = {"distributed.worker.profile.enabled": False,
                       "distributed.worker.memory.monitor-interval": "5s",
                       "distributed.admin.system-monitor.interval": "5s",
                       "distributed.admin.tick.interval": "1s"}


def run_campaign(dataset: Path, tasks: list[SiteTask], preset: str | DFTSettings = "production",
                 scratch: Path = Path("scratch"), workers: int = 1, budget_minutes: float | None = None,
                 max_attempts: int = 2, broadening: Broadening = DEFAULT_BROADENING, cluster=None,
                 progress: bool = True, executables=None) -> dict:
    """Compute ``tasks`` into ``dataset``; returns counts {done, failed, skipped, seconds}.

    ``cluster``: a Dask cluster object (e.g. a dask-jobqueue SLURMCluster); default a local
    threaded cluster with ``workers`` workers, each running MPI with ``settings.n_procs`` ranks.
    ``executables``: where pw.x/xspectra.x are on the workers and their launcher (``Executables``).
    A site whose worker died under it (batch job cancelled or past its walltime) more often than
    the scheduler's ``allowed-failures`` is recorded as failed, with the job's log.
    """
    import dask
    from dask.distributed import Client, LocalCluster, as_completed
    from distributed.scheduler import KilledWorker
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    dataset = Path(dataset)
    store.validate(dataset)
    settings = settings_for_dataset(dataset, preset)
    with h5py.File(dataset, "r") as h5:
        check_broadening(dataset, h5, broadening)  # before any DFT
    pseudos = prepare_pseudos()
    hashes = pseudos.hashes()
    scratch = Path(scratch).resolve()
    done = store.done_keys(dataset)
    attempts = store.failure_attempts(dataset)
    todo = [t for t in dict.fromkeys((t.cell_id, t.atom_index) for t in tasks)]
    todo = [SiteTask(c, i) for c, i in todo]
    skipped = [t for t in todo if t.key in done or attempts.get(t.key, 0) >= max_attempts]
    todo = [t for t in todo if t not in skipped]
    cells = {t.cell_id: load_structure(dataset, t.cell_id) for t in todo}
    start = time.monotonic()
    deadline = start + budget_minutes * 60 if budget_minutes else None
    stats = {"done": 0, "failed": 0, "skipped": len(skipped), "seconds": 0.0}
    stop = {"now": False}

    def on_signal(signum, frame):
        # stop now: no new tasks, the running DFT jobs are terminated (their sites are redone on
        # restart), the dataset keeps every site finished so far
        stop["now"] = True
        terminate_running()
        raise KeyboardInterrupt

    allow_new_runs()
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    own_cluster = cluster is None
    # a cluster of our own runs quietly: its statistical profiler (every 10 ms) and monitors kept
    # the event loop thread at 6-9 % of a core beside two DFT jobs (session 8, /proc); on an
    # idle two-worker test cluster the quiet settings took 2.0 % of a core instead of 3.3 %
    with dask.config.set(QUIET_LOCAL_CLUSTER if own_cluster else {}):
        if own_cluster:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                   dashboard_address=":0")
        client = Client(cluster)
        columns = (TextColumn("[bold]DFT sites"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        try:
            with Progress(*columns, disable=not progress) as bar:
                bar_id = bar.add_task("sites", total=len(todo))
                queue = list(todo)
                running = as_completed()
                lookup = {}

                def submit_next():
                    if not queue or stop["now"]:
                        return
                    if deadline is not None and time.monotonic() > deadline:
                        return
                    task = queue.pop(0)
                    future = client.submit(compute_site, cells[task.cell_id], task.atom_index,
                                           scratch / task.cell_id, settings, pseudos, executables,
                                           key=f"site-{task.key}-{time.time_ns()}", pure=False)
                    lookup[future.key] = task
                    running.add(future)

                for _ in range(max(1, workers)):  # one task per worker: the budget is honoured
                    submit_next()
                for future in running:
                    task = lookup.pop(future.key)
                    try:
                        result = future.result()
                        _write_site(dataset, task, result, settings, broadening, hashes)
                    except (AmorphxasError, ValueError, RuntimeError, OSError, KilledWorker) as exc:
                        # a failed site is recorded and retried later; it never stops the campaign
                        message = str(exc) if isinstance(exc, AmorphxasError) else repr(exc)
                        log = str(scratch / task.cell_id / f"site_{task.atom_index}")
                        if isinstance(exc, KilledWorker):
                            message, log = lost_worker_failure(cluster, exc, Path(log))
                        with store.transaction(dataset) as h5:
                            n = store.record_failure(h5, task.cell_id, task.atom_index, message, log)
                        stats["failed"] += 1
                        if n < max_attempts:
                            queue.append(task)
                        bar.console.print(f"[yellow]site {task.key} failed (attempt {n}): {message}")
                    else:
                        stats["done"] += 1
                        bar.advance(bar_id)
                        # one line per site, so a background campaign's log shows its rate
                        steps = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()
                                          if k != "ground_state" and not k.startswith("kpoint_"))
                        bar.console.print(f"site {task.key} done ({stats['done']}/{len(todo)}): {steps}")
                    submit_next()
        except KeyboardInterrupt:
            stop["now"] = True
            terminate_running()
        finally:
            client.close()
            if own_cluster:
                cluster.close()
            for s, handler in previous.items():
                signal.signal(s, handler)
            _clean_finished_cells(dataset, scratch)
    stats["seconds"] = time.monotonic() - start
    stats["interrupted"] = stop["now"]
    return stats


def _clean_finished_cells(dataset: Path, scratch: Path) -> None:
    """Remove finished site directories (logs only: compute_site already removed their
    wavefunctions); ground states stay for the next sites of the cell."""
    for site_dir in scratch.glob("*/site_*"):
        if site_dir.is_dir() and not any(site_dir.glob("out")):
            shutil.rmtree(site_dir, ignore_errors=True)


def add_cells(dataset: Path, structure_files: list[Path]) -> list[str]:
    """Add structure files as cells to ``dataset``, all or nothing (see
    :func:`amorphxas.dataset.cells.add_cells`)."""
    from amorphxas.dataset.cells import add_cells as add

    return add(dataset, structure_files)


def compute_bader(dataset: Path, preset: str | DFTSettings, scratch: Path,
                  cells: list[str] | None = None, log=print,
                  with_spectra_only: bool = True) -> list[str]:
    """Bader charges of every Si of each cell that has site spectra (any cell if not
    ``with_spectra_only``) but no charges yet.

    One PAW ground-state SCF per cell (see :mod:`amorphxas.spectra.bader`); the charges go into
    ``/sites/<cell>/bader_charge`` and the cell's total charge (should be ~0) into its attributes.
    Returns the cells done.
    """
    from amorphxas.spectra.bader import bader_charges

    settings = get_settings(preset)
    with h5py.File(dataset, "r") as h5:
        with_spectra = {c.decode() if isinstance(c, bytes) else str(c)
                        for c in h5["spectra/cell_id"][()]}
        todo = [c for c in sorted(h5["sites"])
                if (cells is None or c in cells) and (c in with_spectra or not with_spectra_only)
                and np.all(np.isnan(h5["sites"][c]["bader_charge"][()]))]
    finished = []
    for cell_id in todo:
        atoms = load_structure(dataset, cell_id)
        log(f"Bader charges of {cell_id} ({len(atoms)} atoms)")
        charges = bader_charges(atoms, Path(scratch).resolve() / cell_id, settings)
        with store.transaction(dataset) as h5:
            group = h5["sites"][cell_id]
            group["bader_charge"][...] = charges[group["atom_index"][()]]
            group.attrs["bader_total_charge"] = float(charges.sum())
            group.attrs["bader_method"] = ("pybader near-grid on the PAW all-electron valence+core "
                                           "density, integrating the all-electron valence density")
        finished.append(cell_id)
    return finished
