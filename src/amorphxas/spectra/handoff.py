"""Inputs for users who run Quantum ESPRESSO themselves, and their outputs read back.

``write_inputs`` writes, for each site, the pw.x and xspectra.x inputs the campaign would run
(same writers, :mod:`amorphxas.spectra.qe`), the pseudopotentials, and a batch script;
``ingest`` reads the finished outputs back with the campaign's parsers, checks, alignment and
provenance (:func:`amorphxas.spectra.site.collect_spectrum`,
:func:`amorphxas.spectra.records.write_sites`). Layout::

    DIR/manifest.json                 protocol, pseudopotential hashes, the sites
    DIR/pseudo/                       Si/O ground-state UPFs, core-hole UPF, core wavefunction
    DIR/<cell>/ground_state/gs.in     one ground state per cell (run by its first site)
    DIR/<cell>/site_<i>/ch.in         core-hole SCF
    DIR/<cell>/site_<i>/xanes_*.in    xspectra runs; xe0 = @XE0@ is set by run.sh after the SCF
    DIR/<cell>/site_<i>/run.sh        the batch script (sbatch / qsub / bash, from its directory)
    DIR/submit_all.sh                 submits every site

Paths inside the inputs are relative, so DIR can be copied to another machine. The
core-hole SCF runs with complex wavefunctions (``core_hole_gamma_only`` is a runtime aid whose
save-file conversion needs amorphxas; the spectrum is the same).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from amorphxas.core.errors import AmorphxasError, DatasetError, EngineError
from amorphxas.core.spectrum import DEFAULT_BROADENING, Broadening
from amorphxas.dataset import load_structure, results, store
from amorphxas.spectra.pseudo import PseudoSet, prepare_pseudos
from amorphxas.spectra.qe import (
    DFTSettings,
    _qe_error,
    completed_settings,
    cpu_seconds,
    parse_pw_output,
    write_pw_input,
    write_xspectra_input,
)
from amorphxas.spectra.site import (
    SiteResult,
    _absorber_type,
    check_site,
    collect_spectrum,
    xspectra_runs,
)

MANIFEST = "manifest.json"
XE0 = "@XE0@"


def _relative_pseudos(pseudos: PseudoSet) -> PseudoSet:
    """The pseudopotential set as seen from DIR/<cell>/<run directory>."""
    return replace(pseudos, directory=Path("../../pseudo"),
                   core_wavefunction=Path("../../pseudo") / pseudos.core_wavefunction.name)


def _header(config, name: str, ranks: int) -> list[str]:
    """Batch directives of one site's job (none without a cluster file)."""
    if config is None or config.kind == "local":
        return []
    if config.kind == "slurm":
        lines = [f"#SBATCH -J {name}", f"#SBATCH --ntasks={ranks}", "#SBATCH --cpus-per-task=1",
                 f"#SBATCH -t {config.walltime}", f"#SBATCH --mem={config.memory}"]
        lines += [f"#SBATCH -p {config.queue}"] * bool(config.queue)
        lines += [f"#SBATCH -A {config.account}"] * bool(config.account)
        return lines + [f"#SBATCH {d}" for d in config.job_directives]
    lines = [f"#PBS -N {name}", f"#PBS -l select=1:ncpus={ranks}:mpiprocs={ranks}:mem={config.memory}",
             f"#PBS -l walltime={config.walltime}"]
    lines += [f"#PBS -q {config.queue}"] * bool(config.queue)
    lines += [f"#PBS -A {config.account}"] * bool(config.account)
    return lines + [f"#PBS {d}" for d in config.job_directives]


def _script(settings: DFTSettings, names: list[str], header: list[str], prologue: list[str],
            launcher: str, pw: str, xspectra: str) -> str:
    run = launcher.replace("{ranks}", str(settings.n_procs)) + " " if launcher else ""
    copy_density = ("mkdir -p out/ch.save && cp ../ground_state/out/gs.save/charge-density.dat "
                    "out/ch.save/\n" if settings.restart_from_ground_state else "")
    xanes = "".join(f'sed "s/{XE0}/$xe0/" {n}.in.template > {n}.in\n'
                    f"{run}{xspectra} -inp {n}.in > {n}.out\n" for n in names)
    return f"""#!/bin/bash
{chr(10).join(header)}
# one Si K-edge site (amorphxas): ground state of the cell (once), core-hole SCF, xspectra
set -euo pipefail
cd "${{SLURM_SUBMIT_DIR:-${{PBS_O_WORKDIR:-$(dirname "$0")}}}}"
export OMP_NUM_THREADS=1
{chr(10).join(prologue)}
(
  flock 9
  if ! grep -q '^!' ../ground_state/gs.out 2>/dev/null; then
    (cd ../ground_state && {run}{pw} -inp gs.in > gs.out && rm -f out/gs.wfc*)
  fi
) 9> ../ground_state/.lock
{copy_density}{run}{pw} -inp ch.in > ch.out
xe0=$(grep 'the Fermi energy is' ch.out | tail -n 1 | awk '{{print $5}}')
{xanes}rm -rf out
"""


def write_inputs(dataset: Path, tasks, settings: DFTSettings, directory: Path,
                 config=None) -> int:
    """Write the inputs, pseudopotentials and batch scripts of ``tasks`` (campaign SiteTasks)
    into ``directory``; ``config``: a :class:`~amorphxas.spectra.cluster.ClusterConfig` for the
    batch directives, launcher and QE programs. Returns the number of sites written."""
    directory = Path(directory)
    if (directory / MANIFEST).exists():
        raise AmorphxasError(f"{directory}: already holds inputs ({MANIFEST}); use a new directory")
    settings = replace(settings, core_hole_gamma_only=False)
    if config is not None:
        settings = replace(settings, n_procs=config.ranks_per_site)
    pseudos = prepare_pseudos()
    relative = _relative_pseudos(pseudos)
    (directory / "pseudo").mkdir(parents=True, exist_ok=True)
    for name in [*pseudos.ground_state.values(), pseudos.core_hole, pseudos.core_wavefunction.name]:
        shutil.copyfile(pseudos.directory / name, directory / "pseudo" / name)
    launcher = config.qe.launcher if config is not None and config.qe.launcher else "mpirun -np {ranks}"
    pw = config.qe.pw if config is not None else "pw.x"
    xspectra = config.qe.xspectra if config is not None else "xspectra.x"
    prologue = list(config.prologue) if config is not None else []
    scripts = []
    for task in tasks:
        atoms = load_structure(dataset, task.cell_id)
        check_site(atoms, task.atom_index)
        cell_dir = directory / task.cell_id
        gs_dir = cell_dir / "ground_state"
        gs_dir.mkdir(parents=True, exist_ok=True)
        gamma = tuple(settings.scf_kpoints) == (1, 1, 1) and not settings.restart_from_ground_state
        write_pw_input(gs_dir / "gs.in", atoms, settings, relative, "gs", Path("out"),
                       gamma_only=gamma)
        site_dir = cell_dir / f"site_{task.atom_index}"
        site_dir.mkdir(parents=True, exist_ok=True)
        write_pw_input(site_dir / "ch.in", atoms, settings, relative, "ch", Path("out"),
                       absorber=task.atom_index, startingpot_file=settings.restart_from_ground_state)
        names = []
        for _, polarisation, shift, name in xspectra_runs(settings):
            template = site_dir / f"{name}.in.template"
            write_xspectra_input(template, settings, "ch", Path("out"),
                                 _absorber_type(atoms, task.atom_index), polarisation,
                                 relative.core_wavefunction, 0.0, f"{name}.dat", shift)
            text = template.read_text().replace("xe0 = 0.000000", f"xe0 = {XE0}")
            template.write_text(text)
            names.append(name)
        header = _header(config, f"amx-{task.cell_id}-{task.atom_index}", settings.n_procs)
        script = site_dir / "run.sh"
        script.write_text(_script(settings, names, header, prologue, launcher, pw, xspectra))
        script.chmod(0o755)
        scripts.append(script.relative_to(directory))
    submit = {"slurm": "sbatch run.sh", "pbs": "qsub run.sh"}.get(getattr(config, "kind", ""),
                                                                   "bash run.sh")
    (directory / "submit_all.sh").write_text(
        "#!/bin/bash\n# submit (or run) every site from its own directory\nset -e\ncd \"$(dirname \"$0\")\"\n"
        + "".join(f"(cd {s.parent} && {submit})\n" for s in scripts))
    (directory / "submit_all.sh").chmod(0o755)
    manifest = {"format": "amorphxas QE inputs", "dataset": str(dataset),
                "settings": settings.as_dict(), "pseudopotentials": pseudos.hashes(),
                "sites": [{"cell_id": t.cell_id, "atom_index": int(t.atom_index)} for t in tasks]}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return len(scripts)


def _read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        manifest["sites"], manifest["settings"], manifest["pseudopotentials"]  # noqa: B018
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AmorphxasError(f"{path}: not an amorphxas inputs manifest ({exc})") from None
    return manifest


def _site_result(site_dir: Path, gs_dir: Path, index: int, settings: DFTSettings) -> SiteResult:
    """A site's outputs -> SiteResult; EngineError (naming the log) if a run failed."""
    for log in [gs_dir / "gs.out", site_dir / "ch.out"] + [
            site_dir / f"{name}.out" for *_, name in xspectra_runs(settings)]:
        if not log.is_file():
            raise FileNotFoundError(log)
        error = _qe_error(log.read_text(errors="replace"))
        if error:
            program = "xspectra.x" if log.name.startswith("xanes") else "pw.x"
            raise EngineError(f"{program} failed: {error} (log: {log})")
    gs = parse_pw_output(gs_dir / "gs.out")
    ch = parse_pw_output(site_dir / "ch.out")
    xe0 = ch.energy_zero
    energy_rel, sigma, chains = collect_spectrum(site_dir, settings, xe0)
    seconds = {"cpu_ground_state": cpu_seconds(gs_dir / "gs.out", "PWSCF"),
               "cpu_core_hole_scf": cpu_seconds(site_dir / "ch.out", "PWSCF")}
    for n, _, shift, name in xspectra_runs(settings):
        cpu = cpu_seconds(site_dir / f"{name}.out", "xanes")
        seconds[f"cpu_xanes_{n}"] = seconds.get(f"cpu_xanes_{n}", 0.0) + cpu
        if shift is not None:
            seconds[f"kpoint_cpu_{name}"] = cpu
    seconds["ingested_from"] = str(site_dir)
    delta = ch.total_energy - gs.total_energy
    return SiteResult(atom_index=int(index), energy=energy_rel + xe0 + delta, sigma=sigma,
                      xe0=xe0, delta_total_energy=delta, ground_state_energy=gs.total_energy,
                      core_hole_energy=ch.total_energy, core_hole_iterations=ch.n_iterations,
                      seconds=seconds, chains=chains or None, core_hole_gamma_only=False)


def ingest(dataset: Path, directory: Path, preset: str | DFTSettings,
           broadening: Broadening = DEFAULT_BROADENING, log=print) -> dict:
    """Read the finished sites of ``directory`` (from :func:`write_inputs`) into ``dataset``.

    The protocol and pseudopotentials the inputs were written with must be the dataset's
    (``preset``); sites already in the dataset are skipped, sites without outputs yet are
    pending, a failed QE run is recorded as a failure with its log. Returns counts
    {done, failed, pending, skipped}."""
    from amorphxas.spectra.protocol import RUNTIME_ONLY, differing_settings, settings_for_dataset
    from amorphxas.spectra.records import write_sites
    from amorphxas.spectra.selection import SiteTask

    directory = Path(directory)
    store.validate(dataset)
    manifest = _read_manifest(directory)
    settings = settings_for_dataset(dataset, preset)
    stored = completed_settings(manifest["settings"])
    differing = differing_settings(stored, settings, RUNTIME_ONLY)
    if differing:
        raise DatasetError(f"{directory}: inputs written under other DFT settings than "
                           f"{dataset}'s ({', '.join(differing)})")
    hashes = prepare_pseudos().hashes()
    if manifest["pseudopotentials"] != hashes:
        raise DatasetError(f"{directory}: inputs use other pseudopotentials than this amorphxas "
                           f"({sorted(manifest['pseudopotentials'])} vs {sorted(hashes)})")
    settings = replace(settings, n_procs=int(stored["n_procs"]), core_hole_gamma_only=False)
    done = store.done_keys(dataset)
    stats = {"done": 0, "failed": 0, "pending": 0, "skipped": 0}
    finished = []
    for item in manifest["sites"]:
        task = SiteTask(str(item["cell_id"]), int(item["atom_index"]))
        site_dir = directory / task.cell_id / f"site_{task.atom_index}"
        if task.key in done:
            stats["skipped"] += 1
            continue
        try:
            finished.append((task, _site_result(site_dir, directory / task.cell_id / "ground_state",
                                                task.atom_index, settings)))
        except FileNotFoundError as missing:
            stats["pending"] += 1
            log(f"site {task.key}: not finished ({Path(str(missing)).name} missing)")
        except (EngineError, OSError, ValueError) as exc:
            results.record_failure(dataset, task.cell_id, task.atom_index, str(exc), str(site_dir))
            stats["failed"] += 1
            log(f"site {task.key} failed: {exc}")
    if finished:
        write_sites(dataset, finished, settings, broadening, hashes)
        stats["done"] = len(finished)
    return stats
