"""The ``amorphxas`` command line: thin typer commands, each a call into one stage."""

from __future__ import annotations

import json
import sys
from enum import Enum
from functools import wraps
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from amorphxas.errors import AmorphxasError
from amorphxas.io_utils import (
    atomic_folder,
    atomic_open,
    atomic_path,
    check_output_dir,
    check_output_file,
)
from amorphxas.spectra.qe import PRESETS as DFT_PRESETS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Structure <-> Si K-edge XANES of amorphous SiOx.")
build_app = typer.Typer(no_args_is_help=True, help="Build amorphous SiOx cells and crystal references.")
dataset_app = typer.Typer(no_args_is_help=True, help="The dataset shipped in the package.")
app.add_typer(build_app, name="build")
app.add_typer(dataset_app, name="dataset")
console = Console()
err_console = Console(stderr=True)


def one_line_errors(func):
    """Show an :class:`AmorphxasError` as one red line and exit 1 instead of a traceback."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AmorphxasError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


STRUCTURE_SUFFIXES = (".extxyz", ".xyz")  # structures are written as extended XYZ


def _write_structure(atoms, output: Path) -> None:
    from amorphxas.structures import write_structure

    with atomic_path(output) as tmp:
        write_structure(atoms, tmp)


def _at_least(value: int | float | None, minimum: int | float, option: str) -> None:
    """One-line error unless ``value`` (if given) is a finite number >= ``minimum``."""
    import math

    if value is not None and not (math.isfinite(value) and value >= minimum):
        raise AmorphxasError(f"{option} {value}: must be at least {minimum}")


class Reference(str, Enum):
    alpha_quartz = "alpha-quartz"
    diamond_si = "diamond-si"


class Preset(str, Enum):
    test = "test"
    study1 = "study1"
    study2 = "study2"
    dataset = "dataset"
    network = "network"


@build_app.command("reference")
@one_line_errors
def build_reference_cmd(name: Reference, output: Path = typer.Option(..., "-o", "--output")):
    """Crystal reference: alpha-quartz (72 atoms) or diamond-si (64 atoms)."""
    from amorphxas.structures import build_reference

    check_output_file(output, STRUCTURE_SUFFIXES, what="structure file")
    atoms = build_reference(name.value)
    _write_structure(atoms, output)
    console.print(f"{name.value}: {len(atoms)} atoms -> {output}")


@build_app.command("melt-quench")
@one_line_errors
def build_melt_quench_cmd(
    x: float = typer.Option(1.0, "--x", help="O/Si ratio, 0..2"),
    atoms: int = typer.Option(100, "--atoms", help="total number of atoms"),
    preset: Preset = typer.Option(Preset.test, "--preset"),
    seed: int = typer.Option(0, "--seed", min=0),
    output: Path = typer.Option(..., "-o", "--output"),
):
    """Random-melt protocol (study 1): random placement, 5000 K anneal, quench."""
    from amorphxas.structures import melt_quench
    from amorphxas.structures.builders import random_composition

    check_output_file(output, STRUCTURE_SUFFIXES, what="structure file")
    _at_least(atoms, 2, "--atoms")
    n_si, n_o = random_composition(x, atoms)
    if abs(n_o / n_si - x) > 0.05:  # e.g. --atoms 2 --x 2 would give SiO1
        raise AmorphxasError(f"--atoms {atoms} cannot give SiO{x:g}: the nearest is {n_si} Si + "
                             f"{n_o} O (x = {n_o / n_si:.3g}); use more atoms")
    cell = melt_quench(x=x, n_atoms=atoms, preset=preset.value, seed=seed, progress=True)
    _write_structure(cell, output)
    console.print(f"SiO{x:g}: {len(cell)} atoms, {cell.get_volume():.1f} A^3 -> {output}")


@build_app.command("depleted-supercell")
@one_line_errors
def build_depleted_cmd(
    x: float = typer.Option(1.0, "--x", help="O/Si ratio, one of 0, 0.25, ..., 2"),
    preset: Preset = typer.Option(Preset.test, "--preset"),
    seed: int = typer.Option(0, "--seed", min=0),
    output: Path = typer.Option(..., "-o", "--output"),
):
    """Depleted-supercell protocol (study 2): 4x4x4 cubic SiO2, remove Si/O, melt, quench."""
    from amorphxas.structures import depleted_supercell

    check_output_file(output, STRUCTURE_SUFFIXES, what="structure file")
    cell = depleted_supercell(x=x, preset=preset.value, seed=seed, progress=True)
    _write_structure(cell, output)
    console.print(f"SiO{x:g}: {len(cell)} atoms, {cell.get_volume():.1f} A^3 -> {output}")


@app.command("sites")
@one_line_errors
def sites_cmd(
    structure: Path,
    as_json: bool = typer.Option(False, "--json", help="print a JSON list, one object per Si"),
    rdf: bool = typer.Option(False, "--rdf", help="include the per-site RDF (256 points)"),
):
    """Per-Si-site analysis: valence (O neighbours), motif, per-site RDF."""
    from amorphxas.sites import analyse
    from amorphxas.structures import read_structure

    result = analyse(read_structure(structure))
    records = result.records(include_rdf=rdf)
    if as_json:
        sys.stdout.write(json.dumps(records) + "\n")
        return
    table = Table(title=f"{structure}: {len(records)} Si sites")
    for column in ("valence", "label", "count", "fraction"):
        table.add_column(column)
    valences = [r["valence"] for r in records]
    rows = [(str(v), f"Si{v}+", valences.count(v)) for v in range(5)]
    rows.append((">4", "over-coordinated", sum(v > 4 for v in valences)))
    for valence, label, count in rows:
        table.add_row(valence, label, str(count), f"{count / max(len(records), 1):.3f}")
    console.print(table)


@dataset_app.command("path")
def dataset_path_cmd():
    """Print the path of the dataset embedded in the package."""
    from amorphxas.dataset import embedded_path

    typer.echo(str(embedded_path()))


@dataset_app.command("info")
@one_line_errors
def dataset_info_cmd(
    path: Path | None = typer.Argument(None),
    as_json: bool = typer.Option(False, "--json"),
):
    """Counts by composition and valence, and the DFT settings."""
    from amorphxas.dataset import embedded_path, info

    summary = info(path or embedded_path())
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
        return
    console.print(f"[bold]{summary['path']}[/bold]: {summary['n_sites']} site spectra in "
                  f"{summary['n_cells']} cells ({summary['n_bader']} Bader charges, "
                  f"{summary['n_failed']} failed sites); engine: {summary['engine']}")
    console.print("by valence: " + ", ".join(f"Si{k}+ {v}" for k, v in summary["by_valence"].items()))
    console.print("by composition x: " + ", ".join(f"{k}: {v}" for k, v in
                                                   summary["by_composition"].items()))
    console.print("by fidelity: " + ", ".join(f"{k} {v}" for k, v in
                                              summary["n_sites_by_fidelity"].items())
                  + f"; {summary['n_test_reserved']} in the reserved test set")
    console.print("cells by composition x: " + ", ".join(
        f"{k}: {v}" for k, v in summary["by_composition_cells"].items()))
    console.print("references: " + (", ".join(summary["references"]) or "none"))


# the DFT presets the engine defines, as a typer choice (member production_v4 = "production-v4")
DFTPreset = Enum("DFTPreset", {name.replace("-", "_"): name for name in DFT_PRESETS}, type=str)


class Selection(str, Enum):
    random = "random"
    stratified = "stratified"


@dataset_app.command("create")
@one_line_errors
def dataset_create_cmd(path: Path):
    """Create an empty dataset (common grid 1830-1880 eV, 256 points)."""
    from amorphxas.dataset import create
    from amorphxas.spectra.processing import COMMON_GRID

    check_output_file(path, overwrite=False, what="dataset")
    create(path, COMMON_GRID)
    console.print(f"created {path}")


@dataset_app.command("fork")
@one_line_errors
def dataset_fork_cmd(source: Path, path: Path):
    """A new dataset for a new DFT protocol: SOURCE's cells, site tables and Bader charges,
    no spectra or references."""
    from amorphxas.dataset import fork, validate

    validate(source)
    check_output_file(path, overwrite=False, what="dataset")
    fork(source, path)
    console.print(f"created {path} from the cells of {source}")


@dataset_app.command("reevaluate")
@one_line_errors
def dataset_reevaluate_cmd(source: Path, path: Path,
                           preset: str = typer.Option("production-v3", help="SOURCE's DFT preset"),
                           to_preset: str | None = typer.Option(
                               None, help="PATH's preset, if it differs from SOURCE's only in how "
                                          "chains are evaluated (cut, steps, k-point subset)")):
    """A new dataset PATH: SOURCE with every spectrum evaluated again from its stored Lanczos
    chains (after a fix of the chain evaluation, or under another chain evaluation; no DFT)."""
    from amorphxas.dataset import validate
    from amorphxas.spectra.campaign import reevaluate_dataset
    from amorphxas.spectra.qe import get_settings

    validate(source)
    for name in (preset, to_preset):
        if name is not None:
            get_settings(name)
    check_output_file(path, overwrite=False, what="dataset")
    n = reevaluate_dataset(source, path, preset, to_preset, log=console.print)
    console.print(f"created {path}: {n} site spectra re-evaluated from {source}")


@dataset_app.command("ingest")
@one_line_errors
def dataset_ingest_cmd(path: Path, directory: Path,
                       preset: str = typer.Option("production-v4", help="DATASET's DFT preset")):
    """Read finished QE runs of `compute --write-inputs DIR` back into the dataset PATH (same
    checks and alignment as the campaign; failed runs are recorded as failures)."""
    from amorphxas.spectra.handoff import ingest

    stats = ingest(path, directory, preset, log=console.print)
    console.print(f"done {stats['done']}, failed {stats['failed']}, pending {stats['pending']}, "
                  f"skipped {stats['skipped']} (already in {path})")


@dataset_app.command("merge")
@one_line_errors
def dataset_merge_cmd(first: Path, second: Path, output: Path = typer.Option(..., "-o", "--output")):
    """A new dataset OUTPUT: FIRST plus the cells, references and site spectra of SECOND that
    FIRST lacks (one protocol; each site once, FIRST's spectrum where both have one)."""
    from amorphxas.dataset.merge import merge

    counts = merge(first, second, output)
    console.print(f"{output}: {counts['from_first'] + counts['added']} site spectra "
                  f"({counts['from_first']} from {first}, {counts['added']} added from {second}, "
                  f"{counts['in_both']} in both kept once)")


@dataset_app.command("add")
@one_line_errors
def dataset_add_cmd(path: Path, structures: list[Path]):
    """Add structure files (cells) and their site analysis to a dataset (all or nothing: one
    bad file leaves the dataset unchanged)."""
    from amorphxas.dataset.cells import add_cells

    added = add_cells(path, structures)
    console.print(f"added {len(added)} cells to {path}")


@app.command("compute-site")
@one_line_errors
def compute_site_cmd(
    structure: Path,
    site: int = typer.Option(..., "--site", help="index of the absorbing Si atom"),
    preset: DFTPreset = typer.Option(DFTPreset.production_v4, "--preset"),
    output: Path = typer.Option(..., "-o", "--output", help="CSV: energy_eV,intensity"),
    dataset: Path | None = typer.Option(None, "--dataset",
                                           help="dataset whose alignment constant to use"),
    workdir: Path | None = typer.Option(None, "--workdir"),
):
    """One site: core-hole Si K-edge spectrum on the absolute (aligned) scale, as CSV."""
    import tempfile

    import h5py
    import numpy as np

    from amorphxas.dataset import embedded_path, validate
    from amorphxas.errors import DatasetError
    from amorphxas.spectra.processing import COMMON_GRID, DEFAULT_BROADENING, broaden
    from amorphxas.spectra.qe import get_settings
    from amorphxas.spectra.site import check_alignment_protocol, check_site, compute_site
    from amorphxas.structures import read_structure

    source = dataset or embedded_path()
    validate(source)
    with h5py.File(source, "r") as h5:
        constant = h5["spectra"].attrs.get("alignment_constant_eV")
    if constant is None:
        raise DatasetError(f"{source}: no alignment constant (alpha-quartz reference) yet")
    check_alignment_protocol(source, get_settings(preset.value))  # before any DFT
    atoms = read_structure(structure)
    try:
        check_site(atoms, site)
    except AmorphxasError as exc:
        raise AmorphxasError(f"{structure}: {exc}") from None
    check_output_file(output, what="spectrum CSV", inputs=(structure, source))
    if workdir is not None:
        check_output_dir(workdir, what="work folder")
    settings = get_settings(preset.value)
    work = workdir or Path(tempfile.mkdtemp(prefix="amorphxas-site-"))
    result = compute_site(atoms, site, work, settings)
    intensity = broaden(result.energy + float(constant), result.sigma.mean(axis=0), COMMON_GRID,
                        DEFAULT_BROADENING, settings.xs_gamma)
    with atomic_open(output, "w") as handle:
        np.savetxt(handle, np.column_stack([COMMON_GRID, intensity]), delimiter=",",
                   header="energy_eV,intensity", comments="", fmt="%.6f")
    console.print(f"site {site}: {output} ({sum(result.seconds.values()):.0f} s of DFT)")


def _check_sites_file(path: Path) -> None:
    """A ``--sites`` file must be a JSON list of {cell_id, atom_index} objects."""
    try:
        sites = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise AmorphxasError(f"{path}: cannot read the sites file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise AmorphxasError(f"{path}: not JSON ({exc})") from None
    if not isinstance(sites, list) or not all(
            isinstance(s, dict) and {"cell_id", "atom_index"} <= set(s) for s in sites):
        raise AmorphxasError(f'{path}: must be a JSON list of {{"cell_id": ..., '
                             f'"atom_index": ...}} objects')


@app.command("compute")
@one_line_errors
def compute_cmd(
    dataset: Path,
    sites: Path | None = typer.Option(None, "--sites", help="JSON list of {cell_id, atom_index}"),
    select: Selection = typer.Option(Selection.stratified, "--select"),
    n: int = typer.Option(10, "--n", help="number of sites to select"),
    budget: float | None = typer.Option(None, "--budget", help="minutes; no new site after it"),
    workers: int = typer.Option(1, "--workers", help="concurrent sites (each uses --procs MPI ranks)"),
    procs: int = typer.Option(2, "--procs", help="MPI ranks per site"),
    preset: DFTPreset = typer.Option(DFTPreset.production_v4, "--preset"),
    scratch: Path = typer.Option(Path("scratch"), "--scratch"),
    seed: int = typer.Option(0, "--seed", min=0),
    references: bool = typer.Option(True, "--references/--no-references",
                                    help="compute missing crystal references first"),
    bader: bool = typer.Option(True, "--bader/--no-bader",
                               help="Bader charges of cells that have spectra but no charges"),
    only_bader: bool = typer.Option(False, "--only-bader",
                                    help="Bader charges of every cell without them (with or "
                                         "without spectra), then stop: no references, no sites"),
    cluster: str | None = typer.Option(None, "--cluster", help="slurm | pbs | local: run the "
                                       "sites as batch jobs (docs/hpc.md)"),
    cluster_config: Path | None = typer.Option(None, "--cluster-config",
                                               help="TOML: queue, walltime, cores, ranks per site..."),
    write_inputs: Path | None = typer.Option(None, "--write-inputs", help="write the QE inputs, "
                                             "pseudopotentials and a batch script per site into "
                                             "DIR instead of running them (read back with "
                                             "`dataset ingest`)"),
):
    """The DFT campaign: compute site spectra into DATASET (resumable, safe to kill)."""
    from dataclasses import replace

    from amorphxas.dataset import validate
    from amorphxas.spectra.campaign import (
        compute_bader,
        compute_references,
        run_campaign,
        select_sites,
    )
    from amorphxas.spectra.qe import get_settings

    validate(dataset)
    _at_least(n, 1, "--n")
    _at_least(workers, 1, "--workers")
    _at_least(procs, 1, "--procs")
    if budget is not None and not budget > 0:
        raise AmorphxasError(f"--budget {budget}: must be a positive number of minutes")
    if sites is not None:
        _check_sites_file(sites)
    settings = replace(get_settings(preset.value), n_procs=procs)
    hpc = None
    if cluster_config is not None or cluster not in (None, "local"):  # local alone: --workers
        from amorphxas.spectra.cluster import describe, load_cluster_config

        hpc = load_cluster_config(cluster_config, cluster or "local")
        settings = replace(settings, n_procs=hpc.ranks_per_site)
        workers, procs = hpc.workers, hpc.ranks_per_site
        scratch = Path(hpc.scratch) if hpc.scratch else scratch
    if only_bader:
        done = compute_bader(dataset, replace(settings, n_procs=workers * procs), scratch,
                             log=console.print, with_spectra_only=False)
        console.print(f"Bader charges of {len(done)} cells")
        return
    if write_inputs is not None:
        from amorphxas.spectra.handoff import write_inputs as write_site_inputs

        tasks = select_sites(dataset, select.value, n, seed, sites)
        written = write_site_inputs(dataset, tasks, settings, write_inputs, hpc)
        console.print(f"inputs of {written} sites -> {write_inputs} (run {write_inputs}/submit_all.sh, "
                      f"then `amorphxas dataset ingest {dataset} {write_inputs}`)")
        return
    if references:
        compute_references(dataset, settings, scratch, log=console.print)
    if bader:
        # one cell at a time, on every core the site workers would use
        compute_bader(dataset, replace(settings, n_procs=workers * procs), scratch,
                      log=console.print)
    tasks = select_sites(dataset, select.value, n, seed, sites)
    console.print(f"{len(tasks)} sites to compute")
    if hpc is None:
        stats = run_campaign(dataset, tasks, settings, scratch, workers, budget)
    else:
        from amorphxas.spectra.cluster import make_cluster

        console.print(describe(hpc))
        jobs = make_cluster(hpc)
        try:
            stats = run_campaign(dataset, tasks, settings, scratch, workers, budget, cluster=jobs,
                                 executables=hpc.executables())
        finally:
            if jobs is not None:
                jobs.close()
    console.print(f"done {stats['done']}, failed {stats['failed']}, skipped {stats['skipped']} "
                  f"in {stats['seconds'] / 60:.1f} min" + (" (interrupted)" if stats["interrupted"] else ""))


@app.command("describe")
@one_line_errors
def describe_cmd(
    structure: Path | None = typer.Argument(None, help="a structure file (any ASE format)"),
    kind: str = typer.Option("soap-gto", "--kind", help="descriptor kind (see --list)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="X.npy (n_Si x n_features)"),
    dataset: Path | None = typer.Option(None, "--dataset", help="describe every Si of a dataset"),
    preset: str = typer.Option("study1", "--preset", help="study1 | fast"),
    all_kinds: bool = typer.Option(False, "--all", help="every kind (with --dataset)"),
    list_kinds: bool = typer.Option(False, "--list", help="name the kinds and exit"),
    jobs: int = typer.Option(1, "--jobs", help="parallel workers over cells"),
):
    """Local descriptors of the Si sites: one file -> X.npy, or a whole dataset -> sidecar HDF5."""
    import numpy as np

    from amorphxas.descriptors import KINDS, describe_dataset, describe_file, get_descriptor

    _at_least(jobs, 1, "--jobs")
    if list_kinds:
        for name in KINDS:
            typer.echo(f"{name}\t{get_descriptor(name, preset).n_features} features ({preset})")
        return
    if dataset is not None:
        for name in (list(KINDS) if all_kinds else [kind]):
            path = describe_dataset(dataset, name, preset=preset, n_jobs=jobs)
            console.print(f"{name}: -> {path}")
        return
    if structure is None or output is None:
        raise AmorphxasError("give a structure file and -o X.npy, or --dataset PATH, or --list")
    get_descriptor(kind, preset)  # unknown kind or preset: refused before anything else
    check_output_file(output, what="descriptor file", inputs=(structure,))
    features = describe_file(structure, kind, preset)
    with atomic_open(output, "wb") as handle:  # exactly OUTPUT: np.save(path) would add ".npy"
        np.save(handle, features)
    console.print(f"{kind}: {features.shape[0]} Si sites x {features.shape[1]} features -> {output}")


train_app = typer.Typer(no_args_is_help=True, help="Train forward (structure -> spectrum) or "
                                                  "inverse (spectrum -> structure) models.")
app.add_typer(train_app, name="train")


class InverseTarget(str, Enum):
    valence = "valence"
    charge = "charge"
    rdf = "rdf"


class Split(str, Enum):
    random = "random"
    cell = "cell"


@train_app.command("inverse")
@one_line_errors
def train_inverse_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    target: InverseTarget = typer.Option(InverseTarget.valence, "--target"),
    output: Path = typer.Option(..., "-o", "--output", help="model directory"),
    split: Split = typer.Option(Split.random, "--split"),
    seed: int = typer.Option(0, "--seed", min=0),
    members: int = typer.Option(5, "--members", help="ensemble members (uncertainty)"),
):
    """Neural network spectrum -> valence | Bader charge | RDF; writes MODEL_DIR/metrics.json."""
    from amorphxas.dataset import embedded_path, validate
    from amorphxas.inverse import save_model, train_inverse

    _at_least(members, 1, "--members")
    validate(dataset or embedded_path())
    check_output_dir(output, what="model folder")
    model, metrics = train_inverse(dataset or embedded_path(), target=target.value,
                                   split=split.value, seed=seed, n_members=members)
    with atomic_folder(output) as tmp:
        save_model(model, tmp, extra={"target": target.value, "split": split.value})
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    summary = {k: v for k, v in metrics.items() if not isinstance(v, (list, dict))}
    console.print_json(json.dumps(summary, default=float))


@train_app.command("measured")
@one_line_errors
def train_measured_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    output: Path = typer.Option(..., "-o", "--output", help="model directory"),
    seed: int = typer.Option(0, "--seed", min=0, help="cell split (training / calibration cells)"),
    members: int = typer.Option(5, "--members", help="ensemble members per target"),
    mixtures: int = typer.Option(2000, "--mixtures", help="site-spectrum mixtures per target"),
):
    """Networks for measured spectra: mean valence, Bader charge and RDF with calibrated
    intervals, trained on site-spectrum mixtures with beamline perturbations (docs/inverse.md)."""
    from amorphxas.dataset import embedded_path, validate
    from amorphxas.inverse.mixture_models import train_measured

    _at_least(members, 1, "--members")
    _at_least(mixtures, 50, "--mixtures")
    validate(dataset or embedded_path())
    check_output_dir(output, what="model folder")
    models = train_measured(dataset or embedded_path(), seed=seed, n_members=members,
                            n_mix=mixtures, log=err_console.print)
    with atomic_folder(output) as tmp:
        models.save(tmp)
    console.print_json(json.dumps({"targets": sorted(models.models), **{
        k: models.info[k] for k in ("train_cells", "calibration_cells", "train_seconds")}}))


FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


class ReferenceMaterial(str, Enum):
    alpha_quartz = "alpha-quartz"
    silicon = "silicon"


@app.command("invert")
@one_line_errors
def invert_cmd(
    model_dir: Path,
    spectrum: Path,
    as_json: bool = typer.Option(False, "--json"),
    energy_shift: float = typer.Option(0.0, "--energy-shift", help="eV added to the energies first"),
    figure: Path | None = typer.Option(None, "--figure", help="PNG/PDF/SVG: normalisation, fit, "
                                       "weighted components, residual"),
    reference: list[Path] | None = typer.Option(
        None, "--reference", help="reference spectrum measured on the sample's energy scale "
        "(once per --reference-material, in the same order)"),
    reference_material: list[ReferenceMaterial] | None = typer.Option(
        None, "--reference-material", help="alpha-quartz or silicon (a Si wafer)"),
    columns: str | None = typer.Option(
        None, "--columns", help="ENERGY,MU | ENERGY,IF/I0 | ENERGY,ln(I0/IT): column names or "
        "1-based numbers (default: first two columns; an XDI/Athena file's mu)"),
    dataset: Path | None = typer.Option(None, "--dataset", help="dataset of the standards "
                                        "(default: the embedded one)"),
    bootstrap: int = typer.Option(100, "--bootstrap", help="bootstrap draws over site spectra"),
):
    """Si0..Si4+ fractions, mean valence and mean Bader charge (with uncertainty) of a measured
    Si K-edge spectrum: LCF with the per-valence DFT standards, plus MODEL_DIR's networks."""
    from amorphxas.measured.answer import analyse, format_text
    from amorphxas.measured.figure import plot_analysis

    if figure is not None:
        check_output_file(figure, FIGURE_SUFFIXES, what="figure")
    reference, reference_material = list(reference or []), list(reference_material or [])
    if len(reference) != len(reference_material):
        raise AmorphxasError(f"{len(reference)} --reference file(s) but {len(reference_material)} "
                             "--reference-material value(s); give one material per reference")
    if bootstrap < 0:
        raise AmorphxasError(f"--bootstrap {bootstrap}: must be >= 0")
    analysis = analyse(spectrum, model_dir=model_dir, columns=columns, dataset=dataset,
                       references=[(r, m.value) for r, m in zip(reference, reference_material)],
                       n_boot=bootstrap, energy_shift=energy_shift)
    if figure is not None:
        with atomic_path(figure) as tmp:  # tmp keeps the suffix: the format is the figure's
            plot_analysis(analysis, tmp)
    if as_json:
        typer.echo(json.dumps(analysis.result, default=float))
        return
    console.print(format_text(analysis.result), highlight=False, soft_wrap=True)
    if figure is not None:
        console.print(f"figure: {figure}")


@app.command("standards")
@one_line_errors
def standards_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    output: Path = typer.Option(..., "-o", "--output", help="directory for the CSV files"),
):
    """Per-valence Si K-edge standards (mean, std, count of the real DFT site spectra) as CSV
    readable by Athena/Larch."""
    from amorphxas.measured.standards import build_standards, export_standards

    written = export_standards(build_standards(dataset), output)
    console.print(f"{len(written)} files -> {output}")


class ForwardMode(str, Enum):
    direct = "direct"
    pca = "pca"
    nmf = "nmf"


class Strategy(str, Enum):
    ur = "ur"
    random = "random"
    stratified = "stratified"
    ur_stratified = "ur-stratified"


@train_app.command("forward")
@one_line_errors
def train_forward_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    descriptor: str | None = typer.Option(
        None, "--descriptor", help="study 1's ridge on this descriptor kind (default without "
        "--descriptor/--mode/--preset: the benchmark winner, docs/forward.md)"),
    mode: ForwardMode | None = typer.Option(None, "--mode", help="study 1's ridge: direct | pca | "
                                            "nmf (default direct; implies soap-gto)"),
    output: Path = typer.Option(..., "-o", "--output", help="model directory"),
    split: Split | None = typer.Option(None, "--split", help="default: cell (winner), random "
                                       "(--descriptor)"),
    preset: str | None = typer.Option(None, "--preset", help="study 1's ridge: descriptor preset "
                                      "study1 | fast (implies soap-gto)"),
    seed: int = typer.Option(0, "--seed", min=0),
):
    """Structure -> spectrum model; writes MODEL_DIR/model.{npz,json} and metrics.json.

    Default: the best model of benchmarks/bench_forward_models.py, trained on the cell split;
    --descriptor/--mode/--preset: study 1's ridge (direct, PCA or NMF) on a descriptor."""
    from amorphxas.dataset import embedded_path, validate
    from amorphxas.descriptors import get_descriptor
    from amorphxas.forward import save_training, train_forward
    from amorphxas.forward.compact_model import save_compact_training, train_compact

    validate(dataset or embedded_path())
    study1 = descriptor is not None or mode is not None or preset is not None
    descriptor, mode, preset = descriptor or "soap-gto", mode or ForwardMode.direct, preset or "study1"
    get_descriptor(descriptor, preset)
    check_output_dir(output, what="model folder")
    if not study1:
        model, metrics = train_compact(dataset or embedded_path(),
                                       split=(split or Split.cell).value, seed=seed)
        save = save_compact_training
    else:
        model, metrics = train_forward(dataset or embedded_path(), kind=descriptor, mode=mode.value,
                                       split=(split or Split.random).value, seed=seed, preset=preset)
        save = save_training
    with atomic_folder(output) as tmp:
        save(model, metrics, tmp)
    console.print_json(json.dumps({k: v for k, v in metrics.items()
                                   if not isinstance(v, (list, dict))}, default=float))


@app.command("predict")
@one_line_errors
def predict_cmd(
    model_dir: Path,
    structure: Path,
    output: Path = typer.Option(..., "-o", "--output", help="CSV of per-site spectra"),
):
    """Per-site spectra (and their mean and std) of every Si of a structure, from a forward model;
    the default model also writes OUT.sites.csv (per-site domain flag)."""
    from amorphxas.forward.compact_model import predict_file

    check_output_file(output, what="prediction CSV",
                      inputs=(structure, model_dir / "model.json", model_dir / "model.npz"))
    sites_csv = output.with_name(output.stem + ".sites.csv")
    with atomic_path(output) as tmp, atomic_path(sites_csv) as tmp_sites:
        summary = predict_file(model_dir, structure, tmp, tmp_sites)
    if "n_outside" in summary:
        if summary["n_outside"]:
            err_console.print(f"warning: {summary['n_outside']} of {summary['n_sites']} Si sites "
                              f"outside the training domain ({summary['n_outside_knn']} far from "
                              f"every training cell, {summary['n_overcoordinated']} with > 4 O); "
                              f"per-site flags: {sites_csv}")
    else:
        sites_csv.unlink(missing_ok=True)
        err_console.print(f"domain check: {summary}")
    console.print(f"{summary['n_sites']} Si sites -> {output}")


@app.command("select")
@one_line_errors
def select_cmd(
    dataset: Path | None = typer.Argument(None),
    strategy: Strategy = typer.Option(Strategy.ur, "--strategy"),
    n: int = typer.Option(20, "--n"),
    output: Path = typer.Option(..., "-o", "--output", help="SITES.json for `amorphxas compute --sites`"),
    descriptor: str = typer.Option("soap-gto", "--descriptor"),
    preset: str = typer.Option("study1", "--preset"),
    seed: int = typer.Option(0, "--seed", min=0),
):
    """Pick the next sites to compute (uncertainty reduction, random or stratified)."""
    from amorphxas.dataset import embedded_path, validate
    from amorphxas.descriptors import get_descriptor
    from amorphxas.forward import select_sites_for_dataset

    _at_least(n, 1, "--n")
    validate(dataset or embedded_path())
    get_descriptor(descriptor, preset)
    check_output_file(output, what="sites file")
    with atomic_path(output) as tmp:
        sites = select_sites_for_dataset(dataset or embedded_path(), n=n, strategy=strategy.value,
                                         kind=descriptor, preset=preset, seed=seed, out=tmp)
    console.print(f"{len(sites)} sites -> {output}")


@app.command("run")
@one_line_errors
def run_cmd(
    dataset: Path | None = typer.Option(None, "--dataset"),
    out: Path = typer.Option(Path("amorphxas-run"), "--out"),
    quick: bool = typer.Option(False, "--quick", help="one descriptor, no windows, small ensembles"),
):
    """The main job: every stage on the embedded (or given) dataset, then an HTML report."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from amorphxas.dataset import embedded_path
    from amorphxas.pipeline import STAGES, run_pipeline, summary_rows

    source = dataset or embedded_path()
    check_output_dir(out, what="run folder")
    dataset_info_cmd(source, as_json=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("stage {task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console) as bar:
        stage = bar.add_task("starting", total=len(STAGES))

        def log(message: str) -> None:
            bar.update(stage, description=message, completed=min(
                [k for k, name in enumerate(STAGES) if message.startswith(name)] or [0]))

        metrics = run_pipeline(source, out, quick=quick, log=log)
        bar.update(stage, description="done", completed=len(STAGES))
    table = Table(title="summary")
    for column in ("what", "result"):
        table.add_column(column)
    for what, result in summary_rows(metrics):
        table.add_row(f"[yellow]{what}[/yellow]" if what == "not run" else what, result)
    console.print(table)
    console.print(f"report: {out / 'report.html'} ({metrics['seconds']:.0f} s)")


@app.command("report")
@one_line_errors
def report_cmd(run_dir: Path):
    """Render DIR/report.html (self-contained) from what `amorphxas run` saved in DIR."""
    from amorphxas.report.html import render

    console.print(f"report: {render(run_dir)}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
