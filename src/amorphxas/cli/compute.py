"""The ``amorphxas`` commands for core-hole DFT: one site, a campaign, and the choice of its next sites."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from amorphxas.cli._common import (
    DESCRIPTOR_PRESET_HELP,
    PROTOCOL_HELP,
    Protocol,
    Selection,
    Strategy,
    _at_least,
    app,
    console,
    old_names,
    one_line_errors,
)
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import (
    atomic_open,
    atomic_path,
    check_output_dir,
    check_output_file,
)


@app.command("compute-site")
@one_line_errors
@old_names(old_preset="preset")
def compute_site_cmd(
    structure: Path,
    site: int = typer.Option(..., "--site", help="index of the absorbing Si atom"),
    preset: Protocol = typer.Option(Protocol.production_v4, "--protocol", help=PROTOCOL_HELP),
    old_preset: Protocol | None = typer.Option(None, "--preset", hidden=True),
    output: Path = typer.Option(..., "-o", "--output", help="CSV: energy_eV,intensity"),
    dataset: Path | None = typer.Option(None, "--dataset",
                                           help="dataset whose alignment constant to use"),
    workdir: Path | None = typer.Option(None, "--workdir"),
):
    """One site: core-hole Si K-edge spectrum on the absolute (aligned) scale, as CSV."""
    import numpy as np

    from amorphxas.core.spectrum import COMMON_GRID
    from amorphxas.dataset import embedded_path, validate
    from amorphxas.spectra.qe import get_settings
    from amorphxas.spectra.site import check_site, compute_site_spectrum
    from amorphxas.structures import read_structure

    source = dataset or embedded_path()
    validate(source)
    atoms = read_structure(structure)
    try:
        check_site(atoms, site)
    except AmorphxasError as exc:
        raise AmorphxasError(f"{structure}: {exc}") from None
    check_output_file(output, what="spectrum CSV", inputs=(structure, source))
    if workdir is not None:
        check_output_dir(workdir, what="work folder")
    # the alignment constant and its protocol are checked before any DFT
    intensity, result = compute_site_spectrum(atoms, site, source, get_settings(preset.value), workdir)
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
@old_names(old_preset="preset", write_inputs="output")
def compute_cmd(
    dataset: Path,
    sites: Path | None = typer.Option(None, "--sites", help="JSON list of {cell_id, atom_index}"),
    select: Selection = typer.Option(Selection.stratified, "--select"),
    n: int = typer.Option(10, "--n", help="number of sites to select"),
    budget: float | None = typer.Option(None, "--budget", help="minutes; no new site after it"),
    workers: int = typer.Option(1, "--workers", help="concurrent sites (each uses --procs MPI ranks)"),
    procs: int = typer.Option(2, "--procs", help="MPI ranks per site"),
    preset: Protocol = typer.Option(Protocol.production_v4, "--protocol", help=PROTOCOL_HELP),
    old_preset: Protocol | None = typer.Option(None, "--preset", hidden=True),
    screening: Protocol | None = typer.Option(
        None, "--screening", help="a cheaper protocol for the sites outside the test reserve: "
        "the dataset's own on fewer k-points (screening-gamma for production-v4); test-reserved "
        "sites keep --protocol"),
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
    output: Path | None = typer.Option(None, "-o", "--output", help="write the QE inputs, "
                                       "pseudopotentials and a batch script per site into this "
                                       "folder instead of running them (read back with "
                                       "`dataset ingest`)"),
    write_inputs: Path | None = typer.Option(None, "--write-inputs", hidden=True),
):
    """The DFT campaign: compute site spectra into DATASET (resumable, safe to kill)."""
    from amorphxas.cli._progress import campaign_bar
    from amorphxas.dataset import validate
    from amorphxas.spectra.campaign import CampaignMaker, Resources, SiteSelection

    validate(dataset)
    _at_least(n, 1, "--n")
    _at_least(workers, 1, "--workers")
    _at_least(procs, 1, "--procs")
    if budget is not None and not budget > 0:
        raise AmorphxasError(f"--budget {budget}: must be a positive number of minutes")
    if sites is not None:
        _check_sites_file(sites)
    hpc = None
    if cluster_config is not None or cluster not in (None, "local"):  # local alone: --workers
        from amorphxas.spectra.cluster import load_cluster_config

        hpc = load_cluster_config(cluster_config, cluster or "local")
    maker = CampaignMaker(preset.value, SiteSelection(select.value, n, seed, sites),
                          resources=Resources(workers, procs, budget, scratch, hpc),
                          references=references, bader=bader,
                          screening=screening.value if screening is not None else None)
    if only_bader:
        done = maker.run_bader(dataset, log=console.print)
        console.print(f"Bader charges of {len(done)} cells")
        return
    if output is not None:
        written = maker.write_inputs(dataset, output)
        console.print(f"inputs of {written} sites -> {output} (run {output}/submit_all.sh, "
                      f"then `amorphxas dataset ingest {dataset} {output}`)")
        return
    with campaign_bar(console) as progress:
        stats = maker.run(dataset, progress=progress, log=console.print)
    console.print(f"done {stats['done']}, failed {stats['failed']}, skipped {stats['skipped']} "
                  f"in {stats['seconds'] / 60:.1f} min" + (" (interrupted)" if stats["interrupted"] else ""))


class URModel(str, Enum):
    compact = "compact"
    descriptor_ridge = "descriptor-ridge"


@app.command("select")
@one_line_errors
@old_names(old_preset="preset")
def select_cmd(
    dataset: Path | None = typer.Argument(None),
    strategy: Strategy = typer.Option(Strategy.ur, "--strategy"),
    n: int = typer.Option(20, "--n"),
    output: Path = typer.Option(..., "-o", "--output", help="SITES.json for `amorphxas compute --sites`"),
    model: URModel | None = typer.Option(
        None, "--model", help="whose uncertainty UR reduces: compact (the default forward model, "
        "fitted on the computed sites) | descriptor-ridge (study 1's ridge leverage on "
        "--descriptor); default compact, descriptor-ridge when --descriptor or "
        "--descriptor-preset is given"),
    descriptor: str | None = typer.Option(None, "--descriptor",
                                          help="descriptor-ridge: descriptor kind (soap-gto)"),
    preset: str | None = typer.Option(None, "--descriptor-preset", help=DESCRIPTOR_PRESET_HELP),
    old_preset: str | None = typer.Option(None, "--preset", hidden=True),
    seed: int = typer.Option(0, "--seed", min=0),
):
    """Pick the next sites to compute (uncertainty reduction, random or stratified)."""
    from amorphxas.dataset import embedded_path, validate
    from amorphxas.descriptors import get_descriptor
    from amorphxas.forward import select_sites_for_dataset

    _at_least(n, 1, "--n")
    validate(dataset or embedded_path())
    if model is None:
        legacy = descriptor is not None or preset is not None
        model = URModel.descriptor_ridge if legacy else URModel.compact
    descriptor, preset = descriptor or "soap-gto", preset or "study1"
    get_descriptor(descriptor, preset)
    check_output_file(output, what="sites file")
    with atomic_path(output) as tmp:
        sites = select_sites_for_dataset(dataset or embedded_path(), n=n, strategy=strategy.value,
                                         kind=descriptor, preset=preset, seed=seed, out=tmp,
                                         ur_model=model.value)
    console.print(f"{len(sites)} sites -> {output}")
