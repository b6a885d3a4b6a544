"""One command line and one Python API: --version, -h everywhere, -o/--output, the renamed options
(and their old, hidden names), flags shown as flags, the summaries, and the top-level API."""

from __future__ import annotations

import inspect
import json
import re
import shutil

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import amorphxas
from amorphxas.cli import app

runner = CliRunner()

#: (command, old hidden name, new name): every rename keeps the old spelling working
RENAMES = [
    ("build melt-quench", "--preset", "--schedule"),
    ("build depleted-supercell", "--preset", "--schedule"),
    ("compute-site", "--preset", "--protocol"),
    ("compute", "--preset", "--protocol"),
    ("dataset reevaluate", "--preset", "--protocol"),
    ("dataset reevaluate", "--to-preset", "--to-protocol"),
    ("dataset ingest", "--preset", "--protocol"),
    ("describe", "--preset", "--descriptor-preset"),
    ("select", "--preset", "--descriptor-preset"),
    ("train forward", "--preset", "--descriptor-preset"),
    ("run", "--out", "--output"),
    ("compute", "--write-inputs", "--output"),
]

API = ["build", "analyse_sites", "compute_site", "Dataset", "train_forward", "train_inverse",
       "predict", "invert"]


def _commands(command=None, path=()):
    """(path, click command) of the app and of every registered (sub-)command, recursively."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands())


def _option(path: str, name: str):
    command = COMMANDS[tuple(path.split())]
    return next(p for p in command.params if name in p.opts)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"amorphxas {amorphxas.__version__}"


def test_the_walk_finds_every_command():
    names = {" ".join(p) for p in COMMANDS}
    assert {"sites", "build melt-quench", "dataset info", "train forward", "train inverse", "predict",
            "invert", "compute", "run"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("path", list(COMMANDS), ids=[" ".join(p) or "amorphxas" for p in COMMANDS])
def test_short_and_long_help_on_every_command(path):
    short = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "200"})
    long = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert short.exit_code == 0 and long.exit_code == 0, short.output
    assert "Usage:" in short.output and short.output == long.output
    assert "<bool>" not in short.output  # flags are shown as flags
    for old in {old for cmd, old, _ in RENAMES if tuple(cmd.split()) == path}:
        assert not re.search(rf"{old}\b", short.output), f"hidden {old} shown"


def test_every_output_option_is_short_and_long():
    for path, command in COMMANDS.items():
        for param in command.params:
            if param.name in ("output", "out") and isinstance(param, typer.core.TyperOption):
                assert {"-o", "--output"} <= set(param.opts), (path, param.opts)


#: the leaf commands that write no new file, and why; every other command writes one and names it
#: with -o/--output
WRITE_NO_NEW_FILE = {
    "sites": "prints the site analysis",
    "dataset path": "prints a path",
    "dataset info": "prints counts",
    "dataset ingest": "adds finished QE runs to PATH in place",
    "dataset add": "adds cells to PATH in place",
    "report": "writes RUN_DIR/report.html from RUN_DIR's own results",
}

#: (command, arguments before the output, old positional form): outputs that used to be positional
OLD_POSITIONAL_OUTPUTS = [
    ("dataset create", [], "old_path"),
    ("dataset fork", ["SOURCE"], "old_path"),
    ("dataset reevaluate", ["SOURCE"], "old_path"),
]


def test_every_command_that_writes_a_file_has_output():
    leaves = {" ".join(p): c for p, c in COMMANDS.items() if p and not getattr(c, "commands", None)}
    assert set(WRITE_NO_NEW_FILE) <= set(leaves)
    for name, command in leaves.items():
        if name in WRITE_NO_NEW_FILE:
            continue
        opts = [p for p in command.params if isinstance(p, typer.core.TyperOption) and not p.hidden
                and "-o" in p.opts]
        assert opts and "--output" in opts[0].opts, f"{name}: writes a file but has no -o/--output"


@pytest.mark.parametrize("command,before,old", OLD_POSITIONAL_OUTPUTS)
def test_old_positional_output_is_hidden_and_parsed(command, before, old):
    cmd = COMMANDS[tuple(command.split())]
    argument = next(p for p in cmd.params if p.name == old)
    assert argument.hidden and argument.default is None and not argument.required
    usage = runner.invoke(app, [*command.split(), "-h"], env={"COLUMNS": "200"}).output
    assert old not in usage and "OLD_PATH" not in usage
    for args, wanted in (([*before, "new.h5"], "old_path"), ([*before, "-o", "new.h5"], "output")):
        parsed = cmd.make_context(command, list(args), resilient_parsing=True)
        assert str(parsed.params[wanted]) == "new.h5"


def test_dataset_create_and_fork_old_and_new_output(tmp_path):
    def run(*args):
        result = runner.invoke(app, ["dataset", *[str(a) for a in args]])
        assert result.exit_code == 0, result.output
        return result

    run("create", "-o", tmp_path / "new.h5")
    run("create", tmp_path / "old.h5")
    run("fork", tmp_path / "new.h5", "--output", tmp_path / "fork_new.h5")
    run("fork", tmp_path / "new.h5", tmp_path / "fork_old.h5")
    assert all((tmp_path / f).is_file() for f in ("new.h5", "old.h5", "fork_new.h5", "fork_old.h5"))
    for args, message in ((["create"], "no dataset path"),
                          (["create", tmp_path / "a.h5", "-o", tmp_path / "b.h5"], "two dataset paths")):
        result = runner.invoke(app, ["dataset", *[str(a) for a in args]])
        assert result.exit_code == 1 and message in result.output
        assert "Traceback" not in result.output


def test_compute_inputs_folder_under_output_and_old_write_inputs(si8, quartz9, tmp_path):
    from tests.test_campaign import _tiny_dataset

    path = _tiny_dataset(tmp_path / "d" / "d.h5", si8, quartz9, constant=1840.0)
    (tmp_path / "sites.json").write_text(json.dumps([{"cell_id": "si8", "atom_index": 0}]))
    trees = []
    for option, folder in (("-o", "new"), ("--write-inputs", "old")):
        result = runner.invoke(app, ["compute", str(path), "--sites", str(tmp_path / "sites.json"),
                                     "--protocol", "fast", "--procs", "1", option,
                                     str(tmp_path / folder)])
        assert result.exit_code == 0, result.output
        trees.append(sorted(str(p.relative_to(tmp_path / folder))
                            for p in (tmp_path / folder).rglob("*")))
    assert trees[0] == trees[1] and "si8/site_0/ch.in" in trees[0]
    assert _option("compute", "--write-inputs").hidden


@pytest.mark.parametrize("command,old,new", RENAMES)
def test_old_option_names_are_parsed_hidden(command, old, new):
    hidden, shown = _option(command, old), _option(command, new)
    assert hidden.hidden and not shown.hidden and hidden.default is None
    value = "test" if new in ("--schedule", "--output") else "fast"  # a valid value of each
    parsed = COMMANDS[tuple(command.split())].make_context(command, [old, value],
                                                         resilient_parsing=True)
    assert str(getattr(parsed.params[hidden.name], 'value', parsed.params[hidden.name])) == value


def test_old_names_passes_the_old_value_on():
    from amorphxas.cli._common import old_names

    @old_names(old_preset="schedule")
    def command(schedule="dataset", seed=0):
        return schedule, seed

    assert command(schedule="dataset", old_preset=None, seed=1) == ("dataset", 1)
    assert command(schedule="dataset", old_preset="test") == ("test", 0)


def test_melt_quench_defaults_to_the_production_schedule_and_accepts_preset(tmp_path, monkeypatch):
    import amorphxas.structures
    from amorphxas.structures import build_reference

    seen = []

    def fake_melt_quench(x, n_atoms, preset, seed, progress):
        seen.append(preset)
        return build_reference("alpha-quartz")

    monkeypatch.setattr(amorphxas.structures, "melt_quench", fake_melt_quench)
    for k, extra in enumerate([[], ["--schedule", "study1"], ["--preset", "test"]]):
        result = runner.invoke(app, ["build", "melt-quench", *extra, "-o", str(tmp_path / f"{k}.extxyz")])
        assert result.exit_code == 0, result.output
    assert seen == ["dataset", "study1", "test"]


def test_describe_list_same_under_old_and_new_preset_name():
    new = runner.invoke(app, ["describe", "--list", "--descriptor-preset", "fast"])
    old = runner.invoke(app, ["describe", "--list", "--preset", "fast"])
    default = runner.invoke(app, ["describe", "--list"])
    assert new.exit_code == old.exit_code == 0 and new.stdout == old.stdout
    assert "(fast)" in new.stdout and new.stdout != default.stdout


def test_api_names_exported_lazily_with_docstrings():
    import subprocess
    import sys

    code = "import amorphxas, sys; print(sorted(m for m in sys.modules if m.startswith('amorphxas')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # nothing but the version literal imported before first use
    assert loaded.stdout.strip() == "['amorphxas', 'amorphxas._version']"
    assert set(API) <= set(amorphxas.__all__) and set(API) <= set(dir(amorphxas))
    for name in API:
        obj = getattr(amorphxas, name)
        assert name in amorphxas.__doc__
        doc = inspect.getdoc(obj) or ""
        assert len(doc) > 80, name
    for name in ("build", "analyse_sites", "compute_site", "train_forward", "predict", "invert"):
        assert re.search(r"Angstrom|eV|\(n_|\(256", inspect.getdoc(getattr(amorphxas, name))), name
    with pytest.raises(AttributeError):
        amorphxas.no_such_name  # noqa: B018


def test_api_build_and_analyse_sites_match_the_cli(tmp_path):
    atoms = amorphxas.build("alpha-quartz")
    assert len(atoms) == 72
    path = tmp_path / "q.extxyz"
    assert runner.invoke(app, ["build", "reference", "alpha-quartz", "-o", str(path)]).exit_code == 0
    sites = amorphxas.analyse_sites(path)
    cli = json.loads(runner.invoke(app, ["sites", str(path), "--json"]).stdout)
    assert [r["valence"] for r in cli] == sites.valence.tolist() == [4] * 24


def test_train_summary_and_api_predict_equal_to_the_cli(tmp_path):
    from amorphxas.dataset import embedded_path

    copy = tmp_path / "copy.h5"
    shutil.copy(embedded_path(), copy)
    model = tmp_path / "fwd"
    result = runner.invoke(app, ["train", "forward", str(copy), "-o", str(model)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((model / "metrics.json").read_text())
    text = " ".join(result.stdout.split())
    assert not text.startswith("{")  # words, not JSON
    assert f"trained on {metrics['n_train']} site spectra from {metrics['n_cells_train']} cells" in text
    assert f"RMSE is {metrics['rmse_total']:.3g}" in text
    assert f"({metrics['baseline_rmse_total']:.3g};" in text

    quartz = amorphxas.build("alpha-quartz")
    structure = tmp_path / "q.extxyz"
    runner.invoke(app, ["build", "reference", "alpha-quartz", "-o", str(structure)])
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(model), str(structure), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_sites"] == 24
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    for given in (structure, quartz):
        pred = amorphxas.predict(model, given)
        assert pred["spectra"].shape == pred["std"].shape == (24, 256)
        np.testing.assert_allclose(table[:, 0], pred["energy"], rtol=1e-6)
        np.testing.assert_allclose(table[:, 1], pred["mean"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(table[:, 4:28].T, pred["spectra"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(table[:, 28:].T, pred["std"], rtol=1e-5, atol=1e-7)


def test_inverse_summary_names_target_data_and_baselines():
    from amorphxas.cli._summary import inverse_summary

    handmade = {"target": "charge", "split": "cell", "seed": 1, "n_train": 80, "n_test": 20,
                "n_test_cells": 4, "n_sites": 100, "n_cells": 18, "rmse": 0.123456, "r2": 0.871,
                "baseline_rmse": 0.2222, "constant_rmse": 0.5556, "parity": {"test_true": [1.0]}}
    text = inverse_summary(handmade, "m")
    assert "spectrum -> charge" in text and "trained on 80 site spectra" in text
    assert "RMSE 0.123 e, R^2 0.87" in text and "0.222 for the linear edge heuristic" in text
    assert "0.556 for the training mean" in text and "parity" not in text
