"""The resumable DFT campaign: many sites, one task each, written atomically into the dataset.

A campaign is a definition and its execution (atomate2's Maker idea): a :class:`CampaignMaker`
holds what to compute (the site selection, the DFT protocol, the broadening) and with what (the
resources: workers, MPI ranks, a time budget, a batch cluster); ``CampaignMaker(...).run(dataset)``
is the whole of ``amorphxas compute`` (crystal references, Bader charges, site selection, sites).

Each site is one task on a Dask cluster (a threaded ``LocalCluster`` by default: every task
spends its time in an MPI subprocess, so threads suffice and a killed campaign takes its
children with it; ``dask-jobqueue`` clusters for SLURM/PBS). Only the client writes the dataset,
one :func:`amorphxas.dataset.store.transaction` per finished site, so a kill at any moment leaves
the previous complete file; done sites are skipped on restart, failures are recorded with their
log and retried at most ``max_attempts`` times. Progress is reported to a callback, one
:class:`SiteEvent` per finished site (the command line draws the bar).

The other jobs of a campaign live in their own modules, re-exported here: site selection
(:mod:`~amorphxas.spectra.selection`), the protocol checks (:mod:`~amorphxas.spectra.protocol`),
stored sites and references (:mod:`~amorphxas.spectra.records`,
:mod:`~amorphxas.spectra.references`), re-evaluation of stored chains
(:mod:`~amorphxas.spectra.reevaluate`), Bader charges (:mod:`~amorphxas.spectra.bader`) and
cell ingestion (:mod:`amorphxas.sites.ingest`).
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.spectrum import DEFAULT_BROADENING, Broadening
from amorphxas.dataset import load_structure, results, store
from amorphxas.dataset.testset import is_test_reserved
from amorphxas.sites.ingest import add_cells
from amorphxas.spectra.bader import compute_bader
from amorphxas.spectra.cluster import ClusterConfig, lost_worker_failure
from amorphxas.spectra.protocol import (
    CHAIN_EVALUATION,
    ENGINE,
    REFERENCE_KPOINTS,
    RUNTIME_ONLY,
    check_broadening,
    check_screening,
    settings_for_dataset,
)
from amorphxas.spectra.pseudo import prepare_pseudos
from amorphxas.spectra.qe import DFTSettings, allow_new_runs, get_settings, terminate_running
from amorphxas.spectra.records import write_sites
from amorphxas.spectra.reevaluate import recut_site, reevaluate_dataset
from amorphxas.spectra.references import compute_references, write_reference
from amorphxas.spectra.selection import SiteTask, select_sites
from amorphxas.spectra.site import SiteResult, compute_site

_write_sites = write_sites  # its name here before the records module

__all__ = [
    "CHAIN_EVALUATION", "ENGINE", "QUIET_LOCAL_CLUSTER", "REFERENCE_KPOINTS", "RUNTIME_ONLY",
    "CampaignMaker", "Resources", "SiteEvent", "SiteSelection", "SiteTask", "add_cells",
    "check_broadening", "compute_bader", "compute_references", "recut_site", "reevaluate_dataset",
    "run_campaign", "select_sites", "settings_for_dataset", "write_reference", "write_sites",
]


@dataclass(frozen=True)
class SiteEvent:
    """One finished site of a running campaign, as reported to its ``progress`` callback.

    ``ok``: its spectrum is stored (else the attempt failed and is recorded); ``done``: sites
    stored so far in this run, of ``total`` to compute; ``attempt``: the failed attempt's number;
    ``message``: the failure, or the site's DFT timings ("core_hole_scf 301 s, ...")."""

    key: str
    ok: bool
    done: int
    total: int
    message: str
    attempt: int | None = None

    @property
    def line(self) -> str:
        """The event as one log line."""
        if self.ok:
            return f"site {self.key} done ({self.done}/{self.total}): {self.message}"
        return f"site {self.key} failed (attempt {self.attempt}): {self.message}"


ProgressCallback = Callable[[SiteEvent], None]


def _reporter(progress: ProgressCallback | bool | None) -> ProgressCallback:
    """``progress`` as a callback: True prints one line per site, False/None reports nothing."""
    if progress is True:
        return lambda event: print(event.line, flush=True)
    if not progress:
        return lambda event: None
    return progress


def _timings(result: SiteResult) -> str:
    """A site's wall-clock seconds per DFT step (ground state and per-k-point entries left out)."""
    return ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()
                     if k != "ground_state" and not k.startswith("kpoint_"))


# Dask settings for the campaign's own LocalCluster: no worker profiling, slow monitors, and a
# 1 s event-loop health tick instead of 20 ms (the tick was most of the orchestration's CPU,
# benchmarks/spectra/idle_cluster_cpu.py; docs/spectra.md)
QUIET_LOCAL_CLUSTER = {"distributed.worker.profile.enabled": False,
                       "distributed.worker.memory.monitor-interval": "5s",
                       "distributed.admin.system-monitor.interval": "5s",
                       "distributed.admin.tick.interval": "1s"}


def run_campaign(dataset: Path, tasks: list[SiteTask], preset: str | DFTSettings = "production",
                 scratch: Path = Path("scratch"), workers: int = 1, budget_minutes: float | None = None,
                 max_attempts: int = 2, broadening: Broadening = DEFAULT_BROADENING, cluster=None,
                 progress: ProgressCallback | bool | None = True, executables=None,
                 screening: DFTSettings | None = None) -> dict:
    """Compute ``tasks`` into ``dataset``; returns counts {done, failed, skipped, seconds,
    interrupted}.

    ``screening``: a cheaper protocol for the training sites, the dataset's own on a subset of its
    k-points (:func:`check_screening`, e.g. ``screening-gamma``); test-reserved sites
    (:mod:`amorphxas.dataset.testset`) keep the dataset's protocol, since their spectra are the
    test labels. Each row records its fidelity; the dataset's protocol stays its own.

    ``cluster``: a Dask cluster object (e.g. a dask-jobqueue SLURMCluster); default a local
    threaded cluster with ``workers`` workers, each running MPI with ``settings.n_procs`` ranks.
    ``executables``: where pw.x/xspectra.x are on the workers and their launcher (``Executables``).
    A site whose worker died under it (batch job cancelled or past its walltime) more often than
    the scheduler's ``allowed-failures`` is recorded as failed, with the job's log.
    ``progress``: called with a :class:`SiteEvent` for every finished site (done or failed);
    True prints each event's line, False reports nothing.
    """
    import dask
    from dask.distributed import Client, LocalCluster, as_completed
    from distributed.scheduler import KilledWorker

    dataset = Path(dataset)
    store.validate(dataset)
    settings = settings_for_dataset(dataset, preset)
    if screening is not None:
        check_screening(settings, screening)
    check_broadening(dataset, broadening)  # before any DFT
    report = _reporter(progress)
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
    protocol_of = _site_protocols(todo, settings, screening)
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
        try:
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
                                       scratch / task.cell_id, protocol_of[task.key], pseudos,
                                       executables,
                                       key=f"site-{task.key}-{time.time_ns()}", pure=False)
                lookup[future.key] = task
                running.add(future)

            for _ in range(max(1, workers)):  # one task per worker: the budget is honoured
                submit_next()
            for future in running:
                task = lookup.pop(future.key)
                try:
                    result = future.result()
                    write_sites(dataset, [(task, result)], protocol_of[task.key], broadening,
                                hashes, protocol=settings)
                except (AmorphxasError, ValueError, RuntimeError, OSError, KilledWorker) as exc:
                    # a failed site is recorded and retried later; it never stops the campaign
                    message = str(exc) if isinstance(exc, AmorphxasError) else repr(exc)
                    log = str(scratch / task.cell_id / f"site_{task.atom_index}")
                    if isinstance(exc, KilledWorker):
                        message, log = lost_worker_failure(cluster, exc, Path(log))
                    n = results.record_failure(dataset, task.cell_id, task.atom_index, message, log)
                    stats["failed"] += 1
                    if n < max_attempts:
                        queue.append(task)
                    report(SiteEvent(task.key, False, stats["done"], len(todo), message, n))
                else:
                    stats["done"] += 1
                    # one event (line) per site, so a background campaign's log shows its rate
                    report(SiteEvent(task.key, True, stats["done"], len(todo), _timings(result)))
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


def _site_protocols(tasks: list[SiteTask], settings: DFTSettings,
                    screening: DFTSettings | None) -> dict[str, DFTSettings]:
    """The protocol of each task's site: ``screening`` unless the site is test-reserved."""
    if screening is None or not tasks:
        return {t.key: settings for t in tasks}
    reserved = is_test_reserved([t.cell_id for t in tasks], [t.atom_index for t in tasks])
    return {t.key: settings if keep else screening for t, keep in zip(tasks, reserved)}


def _clean_finished_cells(dataset: Path, scratch: Path) -> None:
    """Remove finished site directories (logs only: compute_site already removed their
    wavefunctions); ground states stay for the next sites of the cell."""
    for site_dir in scratch.glob("*/site_*"):
        if site_dir.is_dir() and not any(site_dir.glob("out")):
            shutil.rmtree(site_dir, ignore_errors=True)




@dataclass(frozen=True)
class SiteSelection:
    """Which sites a campaign computes: ``how`` "stratified" (by valence and composition) or
    "random", ``n`` of them, drawn with ``seed``; or the sites of ``sites_file`` (a JSON list
    of {cell_id, atom_index}, e.g. from active learning). Done sites are never selected."""

    how: str = "stratified"
    n: int = 10
    seed: int = 0
    sites_file: Path | None = None

    def tasks(self, dataset: Path) -> list[SiteTask]:
        """The sites of ``dataset`` to compute next."""
        return select_sites(dataset, self.how, self.n, self.seed, self.sites_file)


@dataclass(frozen=True)
class Resources:
    """What a campaign runs on: ``workers`` concurrent sites of ``procs`` MPI ranks each, no new
    site after ``budget_minutes``, DFT work folders under ``scratch``; with ``cluster`` (a batch
    scheduler's :class:`~amorphxas.spectra.cluster.ClusterConfig`) its workers, ranks per site
    and scratch folder instead."""

    workers: int = 1
    procs: int = 2
    budget_minutes: float | None = None
    scratch: Path = Path("scratch")
    cluster: ClusterConfig | None = None

    def resolved(self) -> Resources:
        """These resources with the cluster's workers, ranks per site and scratch, if any."""
        if self.cluster is None:
            return self
        return replace(self, workers=self.cluster.workers, procs=self.cluster.ranks_per_site,
                       scratch=Path(self.cluster.scratch) if self.cluster.scratch else self.scratch)


@dataclass(frozen=True)
class CampaignMaker:
    """The definition of a DFT campaign; :meth:`run` executes it (``amorphxas compute``).

    ``protocol``: a DFT preset name or :class:`DFTSettings` (its ``n_procs`` becomes
    ``resources.procs``); ``selection``: the sites; ``broadening``: of the stored spectra (eV);
    ``resources``: workers, ranks, budget, cluster; ``references``: compute missing crystal
    references first; ``bader``: Bader charges of cells that have spectra but no charges;
    ``max_attempts``: tries of a failing site; ``screening``: a cheaper protocol for the sites
    outside the test reserve (the dataset's protocol on a subset of its k-points, e.g.
    ``screening-gamma``; :func:`run_campaign`). Making one runs nothing.
    """

    protocol: str | DFTSettings = "production-v4"
    selection: SiteSelection = field(default_factory=SiteSelection)
    broadening: Broadening = DEFAULT_BROADENING
    resources: Resources = field(default_factory=Resources)
    references: bool = True
    bader: bool = True
    max_attempts: int = 2
    screening: str | DFTSettings | None = None

    def settings(self) -> DFTSettings:
        """The protocol of every site, with the resources' MPI ranks per site."""
        return replace(get_settings(self.protocol), n_procs=self.resources.resolved().procs)

    def screening_settings(self) -> DFTSettings | None:
        """The cheaper protocol of the training sites (None: every site at :meth:`settings`)."""
        if self.screening is None:
            return None
        return replace(get_settings(self.screening), n_procs=self.resources.resolved().procs)

    def _bader_settings(self) -> DFTSettings:
        # one cell at a time, on every core the site workers would use
        resources = self.resources.resolved()
        return replace(self.settings(), n_procs=resources.workers * resources.procs)

    def run(self, dataset: Path, progress: ProgressCallback | bool | None = True,
            log: Callable[[str], None] = print) -> dict:
        """References (if ``references``), Bader charges (if ``bader``), then the selected sites
        into ``dataset``; returns :func:`run_campaign`'s counts {done, failed, skipped, seconds,
        interrupted}. ``progress``: called with a :class:`SiteEvent` per finished site (True:
        print its line); ``log``: called with the other lines (references, cells, site count)."""
        dataset = Path(dataset)
        store.validate(dataset)
        settings, resources = self.settings(), self.resources.resolved()
        if self.references:
            compute_references(dataset, settings, resources.scratch, self.broadening, log=log)
        if self.bader:
            compute_bader(dataset, self._bader_settings(), resources.scratch, log=log)
        tasks = self.selection.tasks(dataset)
        log(f"{len(tasks)} sites to compute")
        run = dict(preset=settings, scratch=resources.scratch, workers=resources.workers,
                   budget_minutes=resources.budget_minutes, max_attempts=self.max_attempts,
                   broadening=self.broadening, progress=progress,
                   screening=self.screening_settings())
        if resources.cluster is None:
            return run_campaign(dataset, tasks, **run)
        from amorphxas.spectra.cluster import describe, make_cluster

        log(describe(resources.cluster))
        jobs = make_cluster(resources.cluster)
        try:
            return run_campaign(dataset, tasks, cluster=jobs,
                                executables=resources.cluster.executables(), **run)
        finally:
            if jobs is not None:
                jobs.close()

    def run_bader(self, dataset: Path, log: Callable[[str], None] = print) -> list[str]:
        """Bader charges of every cell of ``dataset`` without them (with or without spectra),
        nothing else (``amorphxas compute --only-bader``); returns the cells done."""
        store.validate(dataset)
        return compute_bader(dataset, self._bader_settings(), self.resources.resolved().scratch,
                             log=log, with_spectra_only=False)

    def write_inputs(self, dataset: Path, directory: Path) -> int:
        """The QE inputs, pseudopotentials and a batch script of every selected site, written
        into ``directory`` instead of run (``amorphxas compute -o DIR``; read back with
        :func:`amorphxas.spectra.handoff.ingest`); returns the number of sites."""
        from amorphxas.spectra.handoff import write_inputs

        store.validate(dataset)
        return write_inputs(dataset, self.selection.tasks(dataset), self.settings(), directory,
                            self.resources.cluster)
