"""The ``amorphxas`` commands for descriptors, training and prediction."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from amorphxas.cli._common import (
    DESCRIPTOR_PRESET_HELP,
    ForwardMode,
    InverseTarget,
    Split,
    _at_least,
    app,
    console,
    err_console,
    old_names,
    one_line_errors,
    train_app,
)
from amorphxas.cli._summary import (
    _print_result,
    forward_summary,
    inverse_summary,
    measured_summary,
    predict_summary,
)
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import (
    atomic_folder,
    atomic_open,
    atomic_path,
    check_output_dir,
    check_output_file,
)


@app.command("describe")
@one_line_errors
@old_names(old_preset="preset")
def describe_cmd(
    structure: Path | None = typer.Argument(None, help="a structure file (any ASE format)"),
    kind: str = typer.Option("soap-gto", "--kind", help="descriptor kind (see --list)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="X.npy (n_Si x n_features)"),
    dataset: Path | None = typer.Option(None, "--dataset", help="describe every Si of a dataset"),
    preset: str = typer.Option("study1", "--descriptor-preset", help=DESCRIPTOR_PRESET_HELP),
    old_preset: str | None = typer.Option(None, "--preset", hidden=True),
    all_kinds: bool = typer.Option(False, "--all", help="every kind (with --dataset)"),
    list_kinds: bool = typer.Option(False, "--list", help="name the kinds and exit"),
    jobs: int = typer.Option(1, "--jobs", help="parallel workers over cells"),
):
    """Local descriptors of the Si sites: one file -> X.npy, or a whole dataset -> sidecar HDF5."""
    import numpy as np

    from amorphxas.cli._progress import steps_bar
    from amorphxas.descriptors import KINDS, describe_dataset, describe_file, get_descriptor

    _at_least(jobs, 1, "--jobs")
    if list_kinds:
        for name in KINDS:
            typer.echo(f"{name}\t{get_descriptor(name, preset).n_features} features ({preset})")
        return
    if dataset is not None:
        for name in (list(KINDS) if all_kinds else [kind]):
            with steps_bar(console) as progress:
                path = describe_dataset(dataset, name, preset=preset, n_jobs=jobs, progress=progress)
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


@train_app.command("inverse")
@one_line_errors
def train_inverse_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    target: InverseTarget = typer.Option(InverseTarget.valence, "--target"),
    output: Path = typer.Option(..., "-o", "--output", help="model directory"),
    split: Split = typer.Option(Split.random, "--split"),
    seed: int = typer.Option(0, "--seed", min=0),
    members: int = typer.Option(5, "--members", help="ensemble members (uncertainty)"),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON instead of a summary"),
):
    """Neural network spectrum -> valence | Bader charge | RDF; writes MODEL_DIR/metrics.json."""
    from amorphxas.api import train_inverse

    _at_least(members, 1, "--members")
    _, metrics = train_inverse(dataset, target=target.value, split=split.value, seed=seed,
                               members=members, output=output)
    _print_result(metrics, output, as_json, inverse_summary)


@train_app.command("measured")
@one_line_errors
def train_measured_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    output: Path = typer.Option(..., "-o", "--output", help="model directory"),
    seed: int = typer.Option(0, "--seed", min=0, help="cell split (training / calibration cells)"),
    members: int = typer.Option(5, "--members", help="ensemble members per target"),
    mixtures: int = typer.Option(2000, "--mixtures", help="site-spectrum mixtures per target"),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON instead of a summary"),
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
    if as_json:
        console.print_json(json.dumps({"targets": sorted(models.models), **{
            k: models.info[k] for k in ("train_cells", "calibration_cells", "train_seconds")}}))
    else:
        console.print(measured_summary(models.info, sorted(models.models), output), highlight=False,
                      soft_wrap=True)


@train_app.command("forward")
@one_line_errors
@old_names(old_preset="preset")
def train_forward_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    descriptor: str | None = typer.Option(
        None, "--descriptor", help="study 1's ridge on this descriptor kind (default without "
        "--descriptor/--mode/--descriptor-preset: the benchmark winner, docs/forward.md)"),
    mode: ForwardMode | None = typer.Option(None, "--mode", help="study 1's ridge: direct | pca | "
                                            "nmf (default direct; implies soap-gto)"),
    output: Path = typer.Option(..., "-o", "--output", help="model directory"),
    split: Split | None = typer.Option(None, "--split", help="default: cell (winner), random "
                                       "(--descriptor)"),
    preset: str | None = typer.Option(None, "--descriptor-preset", help="study 1's ridge: "
                                      "descriptor size study1 | fast (implies soap-gto)"),
    old_preset: str | None = typer.Option(None, "--preset", hidden=True),
    seed: int = typer.Option(0, "--seed", min=0),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON instead of a summary"),
):
    """Structure -> spectrum model; writes MODEL_DIR/model.{npz,json} and metrics.json.

    Default: the best model of benchmarks/forward/bench_forward_models.py, trained on the cell split;
    --descriptor/--mode/--descriptor-preset: study 1's ridge (direct, PCA or NMF) on a descriptor."""
    from amorphxas.api import train_forward

    _, metrics = train_forward(dataset, descriptor=descriptor, mode=mode.value if mode else None,
                               descriptor_preset=preset, split=split.value if split else None,
                               seed=seed, output=output)
    _print_result(metrics, output, as_json, forward_summary)


@app.command("predict")
@one_line_errors
def predict_cmd(
    model_dir: Path,
    structure: Path,
    output: Path = typer.Option(..., "-o", "--output", help="CSV of per-site spectra"),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON instead of a summary"),
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
        if summary.get("cell_warning"):
            err_console.print(summary["cell_warning"], soft_wrap=True)
    else:
        sites_csv.unlink(missing_ok=True)
    if as_json:
        typer.echo(json.dumps({**summary, "output": str(output),
                               "sites_csv": str(sites_csv) if "n_outside" in summary else None}))
    else:
        console.print(predict_summary(summary, output, sites_csv), highlight=False, soft_wrap=True)

