"""The layering of the package (docs/architecture.md), read from every import in src/amorphxas,
including the ones inside functions: a lazy import breaks a layer as much as a top-level one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "amorphxas"
STAGES = ("structures", "sites", "spectra", "dataset", "descriptors", "forward", "inverse", "report")


def _package_of(path: Path) -> str:
    """'core', a stage name, 'cli', 'pipeline', 'api' or '__init__' for a module path."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    """Every module name imported anywhere in ``path`` (absolute names)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = {path: _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _violations(owner_filter, forbidden) -> list[str]:
    found = []
    for path, names in MODULES.items():
        owner = _package_of(path)
        if not owner_filter(owner):
            continue
        bad = sorted(n for n in names if forbidden(owner, n))
        found += [f"{path.relative_to(PACKAGE)} imports {n}" for n in bad]
    return found


def _stage_of(name: str) -> str | None:
    parts = name.split(".")
    if len(parts) < 2 or parts[0] != "amorphxas" or parts[1] == "__version__":
        return None
    return parts[1]


def test_the_modules_are_found():
    assert len(MODULES) > 80
    assert {_package_of(p) for p in MODULES} >= {"core", "cli", *STAGES}


def test_only_the_dataset_package_imports_h5py():
    assert _violations(lambda owner: owner != "dataset",
                       lambda owner, name: name == "h5py" or name.startswith("h5py.")) == []


def test_the_foundation_imports_no_stage():
    assert _violations(lambda owner: owner == "core",
                       lambda owner, name: _stage_of(name) not in (None, "core")) == []


def test_the_dataset_stands_on_the_foundation_alone():
    assert _violations(lambda owner: owner == "dataset",
                       lambda owner, name: _stage_of(name) not in (None, "core", "dataset")) == []


@pytest.mark.parametrize("stage", ["forward", "inverse", "report"])
def test_learning_and_report_never_import_the_dft_engine(stage):
    assert _violations(lambda owner: owner == stage,
                       lambda owner, name: _stage_of(name) == "spectra") == []


def test_no_stage_imports_the_command_line_or_the_pipeline():
    assert _violations(lambda owner: owner in STAGES or owner == "core",
                       lambda owner, name: _stage_of(name) in ("cli", "pipeline", "api")) == []


def test_report_imports_no_learning_or_engine_code_that_computes():
    """The report reads results and draws; it runs no model, DFT or site analysis."""
    assert _violations(lambda owner: owner == "report",
                       lambda owner, name: _stage_of(name) in ("spectra", "sites", "structures",
                                                               "descriptors")) == []


def test_no_module_is_over_the_size_limit():
    """Small modules with one job: ~450 lines is the aim, 500 the limit."""
    too_long = {str(p.relative_to(PACKAGE)): n for p in MODULES
                if (n := len(p.read_text().splitlines())) > 500}
    assert too_long == {}
